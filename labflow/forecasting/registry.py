"""Model versions per asset in the catalog database; one active version per asset.

Every materialization of ``forecast_model[asset]`` registers a version (its Dagster run, the hash
of the data it was trained on, its parameters, where its bytes are stored); the evaluation adds the
backtest metrics. A version becomes active when a person activates it, or automatically when its
backtest is not worse than the active version's (by a tolerance). Every activation is logged, so a
rollback returns to the version that was active before.

Example::

    registry = ModelRegistry(catalog)
    version = registry.register("line-3", run_id=run.run_id, data_hash=h, params={...}, model_key=key)
    registry.activate("line-3", version.version, by="ana")
    registry.rollback("line-3", by="ana")
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, Integer, String, Text, UniqueConstraint, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from labflow.store.catalog import Base, Catalog, UTCDateTime, retry_on_conflict

COMPARED_METRIC = "mae_ratio_vs_naive"


class UnknownAsset(LookupError):
    """No model version exists for this asset."""

    def __init__(self, asset_id: str):
        super().__init__(f"asset {asset_id!r} has no forecast model; start a training job "
                         "(POST /api/v1/training-jobs) first")
        self.asset_id = asset_id


class UnknownVersion(LookupError):
    """The asset has no such version."""

    def __init__(self, asset_id: str, version: int):
        super().__init__(f"asset {asset_id!r} has no model version {version}")


class RegistryError(ValueError):
    """A registry request that cannot be done as asked (e.g. nothing to roll back to)."""


class ForecastVersionRow(Base):
    __tablename__ = "forecast_model_versions"
    __table_args__ = (UniqueConstraint("asset_id", "version", name="uq_forecast_asset_version"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    asset_id: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    run_id: Mapped[str] = mapped_column(String(64))
    data_hash: Mapped[str] = mapped_column(String(64))
    data_url: Mapped[str | None] = mapped_column(Text)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    model_key: Mapped[str] = mapped_column(Text)


class ForecastActivationRow(Base):
    """The activation log: the newest row of an asset names its active version."""

    __tablename__ = "forecast_activations"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    asset_id: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))  # activate | auto | rollback
    by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


@dataclass(frozen=True)
class ModelVersion:
    """One trained model of an asset, as people and the API see it."""

    asset_id: str
    version: int
    created_at: datetime
    run_id: str
    data_hash: str
    data_url: str | None
    params: dict[str, Any]
    metrics: dict[str, Any]
    model_key: str
    active: bool = False


@dataclass(frozen=True)
class Activation:
    asset_id: str
    version: int
    kind: str
    by: str
    reason: str
    at: datetime


@dataclass(frozen=True)
class AssetModels:
    """An asset's versions at a glance."""

    asset_id: str
    versions: int
    latest: int
    active: int | None


class ModelRegistry:
    """Model versions and activations in the catalog database."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        catalog.create_tables()

    def register(self, asset_id: str, *, run_id: str, data_hash: str, params: dict[str, Any], model_key: str,
                 data_url: str | None = None) -> ModelVersion:
        """Add the next version of ``asset_id`` (numbered 1, 2, …; safe against concurrent registrations)."""
        def insert_next() -> int:
            with self.catalog.begin() as session:
                latest = session.scalar(select(func.max(ForecastVersionRow.version))
                                        .where(ForecastVersionRow.asset_id == asset_id)) or 0
                session.add(ForecastVersionRow(asset_id=asset_id, version=latest + 1, created_at=_now(),
                                               run_id=run_id, data_hash=data_hash, data_url=data_url, params=params,
                                               metrics={}, model_key=model_key))
            return latest + 1

        try:
            return self.get(asset_id, retry_on_conflict(insert_next))
        except IntegrityError:
            raise RegistryError(f"could not number a new version of {asset_id!r}: too many at once; try again") \
                from None

    def set_metrics(self, asset_id: str, version: int, metrics: dict[str, Any]) -> None:
        """Record the backtest metrics of a version."""
        with self.catalog.begin() as session:
            row = self._row(session, asset_id, version)
            row.metrics = dict(metrics)

    def get(self, asset_id: str, version: int) -> ModelVersion:
        with self.catalog.session() as session:
            row = self._row(session, asset_id, version)
            return _version(row, self._active(session, asset_id))

    def versions(self, asset_id: str) -> list[ModelVersion]:
        """Every version of the asset, newest first (raises :class:`UnknownAsset` if none)."""
        with self.catalog.session() as session:
            rows = session.scalars(select(ForecastVersionRow).where(ForecastVersionRow.asset_id == asset_id)
                                   .order_by(ForecastVersionRow.version.desc())).all()
            if not rows:
                raise UnknownAsset(asset_id)
            active = self._active(session, asset_id)
            return [_version(row, active) for row in rows]

    def assets(self) -> list[AssetModels]:
        """Every asset with a model: how many versions, the newest and the active one."""
        query = (select(ForecastVersionRow.asset_id, func.count(), func.max(ForecastVersionRow.version))
                 .group_by(ForecastVersionRow.asset_id).order_by(ForecastVersionRow.asset_id))
        active = self.active_versions()
        with self.catalog.session() as session:
            return [AssetModels(asset, count, latest, active.get(asset)) for asset, count, latest in
                    session.execute(query)]

    def active(self, asset_id: str) -> ModelVersion | None:
        """The active version of the asset, or ``None``."""
        with self.catalog.session() as session:
            number = self._active(session, asset_id)
            return None if number is None else _version(self._row(session, asset_id, number), number)

    def active_versions(self) -> dict[str, int]:
        """Asset → active version number, for every asset with an active version (one query)."""
        newest = (select(ForecastActivationRow.asset_id, func.max(ForecastActivationRow.id).label("id"))
                  .group_by(ForecastActivationRow.asset_id).subquery())
        query = select(ForecastActivationRow.asset_id, ForecastActivationRow.version).join(
            newest, newest.c.id == ForecastActivationRow.id)
        with self.catalog.session() as session:
            return {asset: version for asset, version in session.execute(query)}

    def activations(self, asset_id: str) -> list[Activation]:
        """The activation log of the asset, oldest first."""
        with self.catalog.session() as session:
            rows = session.scalars(select(ForecastActivationRow).where(ForecastActivationRow.asset_id == asset_id)
                                   .order_by(ForecastActivationRow.id)).all()
            return [Activation(r.asset_id, r.version, r.kind, r.by, r.reason, r.at) for r in rows]

    def activate(self, asset_id: str, version: int, *, by: str, reason: str = "activated by a person",
                 kind: str = "activate") -> ModelVersion:
        """Make ``version`` the active one (logged with who and why)."""
        with self.catalog.begin() as session:
            self._row(session, asset_id, version)
            session.add(ForecastActivationRow(asset_id=asset_id, version=version, kind=kind, by=by, reason=reason,
                                              at=_now()))
        return self.get(asset_id, version)

    def rollback(self, asset_id: str, *, by: str) -> ModelVersion:
        """Activate the version that was active before the current one."""
        stack = self.active_stack(asset_id)
        if len(stack) < 2:
            raise RegistryError(f"asset {asset_id!r} has no earlier active version to roll back to")
        return self.activate(asset_id, stack[-2], by=by, kind="rollback",
                             reason=f"rolled back from version {stack[-1]}")

    def active_stack(self, asset_id: str) -> list[int]:
        """Active versions in the order they became active, with rolled-back ones removed (last = active)."""
        stack: list[int] = []
        for entry in self.activations(asset_id):
            if entry.kind == "rollback":
                stack.pop()
                if not stack or stack[-1] != entry.version:
                    stack.append(entry.version)
            elif not stack or stack[-1] != entry.version:
                stack.append(entry.version)
        return stack

    def compare(self, asset_id: str, versions: list[int] | None = None) -> list[ModelVersion]:
        """The given versions (default: all) side by side, in the order asked."""
        known = {v.version: v for v in self.versions(asset_id)}
        wanted = versions or sorted(known)
        missing = [v for v in wanted if v not in known]
        if missing:
            raise UnknownVersion(asset_id, missing[0])
        return [known[v] for v in wanted]

    def auto_activate(self, asset_id: str, version: int, *, tolerance: float) -> tuple[bool, str]:
        """Activate ``version`` if its backtest is not worse than the active one's by more than ``tolerance``
        (relative, on the MAE ratio to the seasonal-naive forecast); returns whether it did and why."""
        candidate = self.get(asset_id, version)
        active = self.active(asset_id)
        new = candidate.metrics.get(COMPARED_METRIC)
        if active is None:
            reason = "first version of the asset"
        elif active.version == version:
            return True, "already active"
        else:
            old = active.metrics.get(COMPARED_METRIC)
            if new is None:
                return False, f"version {version} has no backtest; activate it by hand if wanted"
            if old is not None and new > old * (1 + tolerance):
                return False, (f"kept version {active.version}: its MAE ratio to the naive forecast is {old:.3f}, "
                               f"version {version}'s is {new:.3f} (worse by more than {tolerance:.0%})")
            reason = (f"MAE ratio to the naive forecast {new:.3f} vs {old:.3f} of version {active.version}"
                      if old is not None else f"version {active.version} has no backtest")
        self.activate(asset_id, version, by="auto", kind="auto", reason=reason)
        return True, reason

    def _active(self, session: Any, asset_id: str) -> int | None:
        return session.scalar(select(ForecastActivationRow.version).where(ForecastActivationRow.asset_id == asset_id)
                              .order_by(ForecastActivationRow.id.desc()).limit(1))

    def _row(self, session: Any, asset_id: str, version: int) -> ForecastVersionRow:
        row = session.scalar(select(ForecastVersionRow).where(ForecastVersionRow.asset_id == asset_id,
                                                              ForecastVersionRow.version == version))
        if row is None:
            if session.scalar(select(func.count()).select_from(ForecastVersionRow)
                                          .where(ForecastVersionRow.asset_id == asset_id)) == 0:
                raise UnknownAsset(asset_id)
            raise UnknownVersion(asset_id, version)
        return row


def _version(row: ForecastVersionRow, active: int | None) -> ModelVersion:
    return ModelVersion(row.asset_id, row.version, row.created_at, row.run_id, row.data_hash, row.data_url,
                        dict(row.params or {}), dict(row.metrics or {}), row.model_key, row.version == active)


def _now() -> datetime:
    return datetime.now(timezone.utc)
