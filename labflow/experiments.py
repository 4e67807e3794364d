"""Experiments and recommendations: the workflow around an optimisation campaign.

An **experiment** is registered before its measurement: its input parameters, its campaign, and how
its files will be recognised — the ``experiment_id`` an instrument writes into the sidecar (or a
header line), or a glob on the file name (``file_pattern``). :meth:`ExperimentStore.link_run` links an
arriving run to its experiment and fills the run's metadata (experiment id, campaign, inputs) so the
confirmed dataset carries them.

A **recommendation batch** is what an optimiser proposes next for a campaign: points with their
parameters, predicted mean and uncertainty, the phase (``space_filling`` or ``model_driven``) and
the model version. :meth:`ExperimentStore.campaign_status` says per point whether an experiment with
those inputs was registered, whether it has runs, and whether one of them is confirmed.

Example::

    store = ExperimentStore(catalog)
    store.register("EXP-7", campaign="demo", inputs={"temperature_c": 40.0}, file_pattern="exp7_*.csv")
    store.link_run(catalog.get_run(run_key))         # called by the pipeline when a file arrives
    store.campaign_status("demo").points[0].state    # 'recommended' | 'registered' | 'ran' | 'confirmed'
"""

from __future__ import annotations

import fnmatch
import math
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from labflow.store.catalog import Base, Catalog, RunRecord, UTCDateTime
from labflow.ingest.metadata import RunMetadata

PHASES: tuple[str, ...] = ("space_filling", "model_driven")
POINT_STATES: tuple[str, ...] = ("recommended", "registered", "ran", "confirmed")
_IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$")
_GLOB_CHARS = frozenset("*?[]!")


class ExperimentRow(Base):
    __tablename__ = "experiments"

    experiment_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    campaign: Mapped[str] = mapped_column(String(200), index=True)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    file_pattern: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ExperimentRunRow(Base):
    __tablename__ = "experiment_runs"

    run_key: Mapped[str] = mapped_column(ForeignKey("runs.run_key", ondelete="CASCADE"), primary_key=True)
    experiment_id: Mapped[str] = mapped_column(ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
                                               index=True)
    matched_by: Mapped[str] = mapped_column(String(20))
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RecommendationBatchRow(Base):
    __tablename__ = "recommendation_batches"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    campaign: Mapped[str] = mapped_column(String(200), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RecommendationPointRow(Base):
    __tablename__ = "recommendation_points"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("recommendation_batches.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    mean: Mapped[float] = mapped_column(Float)
    uncertainty: Mapped[float] = mapped_column(Float)
    phase: Mapped[str] = mapped_column(String(20))
    model_version: Mapped[str] = mapped_column(String(100))


class ExperimentError(ValueError):
    """An experiment or recommendation that cannot be stored as given; the message says why."""


class ExperimentExists(ExperimentError):
    """Another experiment with this id is registered (with other inputs, campaign or pattern)."""


@dataclass(frozen=True)
class Experiment:
    """A planned measurement: its inputs, campaign, and how its files are recognised."""

    experiment_id: str
    campaign: str
    inputs: dict[str, Any]
    file_pattern: str | None
    created_at: datetime


@dataclass(frozen=True)
class RunLink:
    """A run linked to an experiment; ``matched_by`` is ``experiment_id`` or ``file_pattern``."""

    run_key: str
    experiment_id: str
    matched_by: str
    linked_at: datetime


@dataclass(frozen=True)
class Recommendation:
    """One point an optimiser proposes: parameters, predicted mean ± uncertainty, phase, model version."""

    parameters: dict[str, Any]
    mean: float
    uncertainty: float
    phase: str
    model_version: str


@dataclass(frozen=True)
class RecommendationBatch:
    """Points posted together for a campaign."""

    batch_id: int
    campaign: str
    created_at: datetime
    points: list[Recommendation]


@dataclass(frozen=True)
class PointStatus:
    """A recommended point and how far it got: registered as an experiment, run, confirmed."""

    batch_id: int
    position: int
    recommendation: Recommendation
    experiment_ids: list[str] = field(default_factory=list)
    run_keys: list[str] = field(default_factory=list)
    confirmed_run_keys: list[str] = field(default_factory=list)

    @property
    def state(self) -> str:
        """``recommended``, ``registered`` (an experiment has these inputs), ``ran`` or ``confirmed``."""
        if self.confirmed_run_keys:
            return "confirmed"
        if self.run_keys:
            return "ran"
        return "registered" if self.experiment_ids else "recommended"


@dataclass(frozen=True)
class CampaignStatus:
    """A campaign at a glance: its current phase and model, and every recommended point's state."""

    campaign: str
    phase: str | None
    model_version: str | None
    experiments: int
    batches: int
    points: list[PointStatus]


class ExperimentStore:
    """Experiments, run links and recommendation batches in the catalog database."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        catalog.create_tables()

    # -- experiments ---------------------------------------------------------------------------
    def register(self, experiment_id: str | None, *, campaign: str, inputs: Mapping[str, Any],
                 file_pattern: str | None = None) -> tuple[Experiment, bool]:
        """Register an experiment (an id is made up if none is given); returns it and whether it is new.

        Registering the same id again with the same campaign, inputs and pattern changes nothing;
        with anything different it raises :class:`ExperimentExists`.
        """
        experiment_id = experiment_id or f"EXP-{datetime.now(timezone.utc):%Y%m%d}-{secrets.token_hex(3)}"
        _check_identifier("experiment id", experiment_id)
        _check_identifier("campaign", campaign)
        _check_inputs(inputs)
        if file_pattern is not None:
            _check_pattern(file_pattern)
        row = ExperimentRow(experiment_id=experiment_id, campaign=campaign, inputs=dict(inputs),
                            file_pattern=file_pattern, created_at=_utcnow())
        with self.catalog.begin() as session:
            existing = session.get(ExperimentRow, experiment_id)
            if existing is None:
                session.add(row)
                return _experiment(row), True
            if (existing.campaign, existing.inputs, existing.file_pattern) != (campaign, dict(inputs), file_pattern):
                raise ExperimentExists(
                    f"experiment {experiment_id!r} is already registered (campaign {existing.campaign!r}, "
                    f"inputs {existing.inputs}, pattern {existing.file_pattern!r}); register under a new id")
            return _experiment(existing), False

    def get(self, experiment_id: str) -> Experiment | None:
        """The experiment with this id, or ``None``."""
        with self.catalog.session() as session:
            row = session.get(ExperimentRow, experiment_id)
            return None if row is None else _experiment(row)

    def list(self, campaign: str | None = None) -> list[Experiment]:
        """Experiments (of one campaign), oldest first."""
        query = select(ExperimentRow).order_by(ExperimentRow.created_at, ExperimentRow.experiment_id)
        if campaign is not None:
            query = query.where(ExperimentRow.campaign == campaign)
        with self.catalog.session() as session:
            return [_experiment(row) for row in session.scalars(query)]

    def runs_of(self, experiment_id: str) -> list[str]:
        """Run keys of the experiment: linked runs and runs whose metadata names it."""
        query = select(ExperimentRunRow.run_key).where(ExperimentRunRow.experiment_id == experiment_id)
        with self.catalog.session() as session:
            linked = set(session.scalars(query))
        named = {run.run_key for run in self.catalog.find_runs(experiment_id=experiment_id, limit=10_000)}
        return sorted(linked | named)

    # -- linking arriving runs -----------------------------------------------------------------
    def link_run(self, run: RunRecord) -> RunLink | None:
        """Link a run to its experiment, by the ``experiment_id`` in its metadata or else by file name.

        A run that names an experiment is linked only to that one (if registered); a run naming none
        is linked to the newest experiment whose ``file_pattern`` matches its original file name.
        The run's metadata gets the experiment id, and its params the campaign and the inputs it lacks.
        Linking again returns the existing link. ``None`` when no experiment matches.
        """
        experiment, matched_by = self._match(run)
        if experiment is None:
            return None
        with self.catalog.begin() as session:
            existing = session.get(ExperimentRunRow, run.run_key)
            if existing is None:
                existing = ExperimentRunRow(run_key=run.run_key, experiment_id=experiment.experiment_id,
                                            matched_by=matched_by, linked_at=_utcnow())
                session.add(existing)
            link = RunLink(existing.run_key, existing.experiment_id, existing.matched_by, existing.linked_at)
        params = {"campaign": experiment.campaign, **experiment.inputs, **run.params}
        self.catalog.set_metadata(run.run_key, RunMetadata(
            instrument=run.instrument, operator=run.operator, material=run.material,
            experiment_id=experiment.experiment_id, started_at=run.started_at, params=params))
        return link

    def _match(self, run: RunRecord) -> tuple[Experiment | None, str]:
        if run.experiment_id:
            return self.get(run.experiment_id), "experiment_id"
        query = (select(ExperimentRow).where(ExperimentRow.file_pattern.is_not(None))
                 .order_by(ExperimentRow.created_at.desc(), ExperimentRow.experiment_id.desc()))
        with self.catalog.session() as session:
            for row in session.scalars(query):
                if fnmatch.fnmatchcase(run.original_name, row.file_pattern or ""):
                    return _experiment(row), "file_pattern"
        return None, ""

    # -- recommendations -----------------------------------------------------------------------
    def add_recommendations(self, campaign: str, points: Sequence[Recommendation]) -> RecommendationBatch:
        """Store a batch of recommended points for a campaign."""
        _check_identifier("campaign", campaign)
        if not points:
            raise ExperimentError("a recommendation batch needs at least one point")
        for index, point in enumerate(points):
            _check_point(index, point)
        with self.catalog.begin() as session:
            batch = RecommendationBatchRow(campaign=campaign, created_at=_utcnow())
            session.add(batch)
            session.flush()
            session.add_all([RecommendationPointRow(
                batch_id=batch.id, position=i, parameters=dict(p.parameters), mean=p.mean,
                uncertainty=p.uncertainty, phase=p.phase, model_version=p.model_version,
            ) for i, p in enumerate(points)])
            return RecommendationBatch(batch.id, campaign, batch.created_at, list(points))

    def batches(self, campaign: str | None = None) -> list[RecommendationBatch]:
        """Recommendation batches (of one campaign), oldest first, with their points in order."""
        query = select(RecommendationBatchRow).order_by(RecommendationBatchRow.id)
        if campaign is not None:
            query = query.where(RecommendationBatchRow.campaign == campaign)
        with self.catalog.session() as session:
            batches = list(session.scalars(query))
            ids = [b.id for b in batches]
            points: dict[int, list[Recommendation]] = {i: [] for i in ids}
            if ids:
                rows = session.scalars(select(RecommendationPointRow)
                                       .where(RecommendationPointRow.batch_id.in_(ids))
                                       .order_by(RecommendationPointRow.batch_id, RecommendationPointRow.position))
                for row in rows:
                    points[row.batch_id].append(Recommendation(row.parameters, row.mean, row.uncertainty,
                                                               row.phase, row.model_version))
            return [RecommendationBatch(b.id, b.campaign, b.created_at, points[b.id]) for b in batches]

    def campaigns(self) -> list[str]:
        """Every campaign with an experiment or a recommendation batch, sorted."""
        with self.catalog.session() as session:
            names = set(session.scalars(select(ExperimentRow.campaign).distinct()))
            names |= set(session.scalars(select(RecommendationBatchRow.campaign).distinct()))
        return sorted(names)

    def campaign_status(self, campaign: str) -> CampaignStatus:
        """Phase, model version and the state of every recommended point of the campaign."""
        experiments = self.list(campaign)
        runs = {e.experiment_id: self._runs(e.experiment_id) for e in experiments}
        batches = self.batches(campaign)
        points = []
        for batch in batches:
            for position, point in enumerate(batch.points):
                matching = [e.experiment_id for e in experiments if inputs_match(point.parameters, e.inputs)]
                ran = [r for eid in matching for r in runs[eid]]
                points.append(PointStatus(
                    batch.batch_id, position, point, matching, sorted(r.run_key for r in ran),
                    sorted(r.run_key for r in ran if r.review_status == "confirmed")))
        newest = batches[-1].points if batches else []
        phase = None if not newest else ("model_driven" if any(p.phase == "model_driven" for p in newest)
                                         else "space_filling")
        return CampaignStatus(campaign, phase, newest[-1].model_version if newest else None, len(experiments),
                              len(batches), points)

    def _runs(self, experiment_id: str) -> list[RunRecord]:
        records = (self.catalog.get_run(key) for key in self.runs_of(experiment_id))
        return [r for r in records if r is not None]


def inputs_match(parameters: Mapping[str, Any], inputs: Mapping[str, Any]) -> bool:
    """Whether an experiment's inputs are the recommended parameters (same names; numbers to 1e-9)."""
    if set(parameters) != set(inputs):
        return False
    return all(_same(parameters[name], inputs[name]) for name in parameters)


def point_rows(status: CampaignStatus) -> list[dict[str, Any]]:
    """One flat row per recommended point, for a table: batch, phase, mean ± uncertainty, state, runs."""
    return [{
        "batch": p.batch_id, "point": p.position, "phase": p.recommendation.phase,
        "model_version": p.recommendation.model_version,
        "parameters": ", ".join(f"{k}={_short(v)}" for k, v in sorted(p.recommendation.parameters.items())),
        "mean": p.recommendation.mean, "uncertainty": p.recommendation.uncertainty,
        "mean ± uncertainty": f"{p.recommendation.mean:.4g} ± {p.recommendation.uncertainty:.2g}",
        "state": p.state, "experiments": ", ".join(p.experiment_ids), "runs": ", ".join(p.run_keys),
    } for p in status.points]


def measured_objectives(status: CampaignStatus, objectives: Mapping[str, float]) -> dict[tuple[int, int], float]:
    """The measured objective of every confirmed point, by (batch, position): the mean over its confirmed
    runs found in ``objectives`` (run key → objective, as the confirmed dataset holds them)."""
    measured = {}
    for point in status.points:
        values = [objectives[key] for key in point.confirmed_run_keys if key in objectives]
        if values:
            measured[(point.batch_id, point.position)] = sum(values) / len(values)
    return measured


def chart_points(status: CampaignStatus, measured: Mapping[tuple[int, int], float] | None = None
                 ) -> tuple[str, list[dict[str, Any]]]:
    """The x-axis label and one ``{x, mean, uncertainty, measured, state, phase}`` per recommended point
    (``measured`` from :func:`measured_objectives`, ``None`` until the point is confirmed).

    With a single numeric parameter the x axis is that parameter; otherwise it is the point's number.
    """
    axis = _single_numeric_parameter([p.recommendation for p in status.points])
    measured = measured or {}
    rows = []
    for number, point in enumerate(status.points, start=1):
        recommendation = point.recommendation
        rows.append({"x": float(recommendation.parameters[axis]) if axis else float(number),
                     "mean": recommendation.mean, "uncertainty": recommendation.uncertainty, "state": point.state,
                     "phase": recommendation.phase, "measured": measured.get((point.batch_id, point.position))})
    return axis or "recommended point", rows


def _single_numeric_parameter(points: Sequence[Recommendation]) -> str | None:
    names = {name for point in points for name in point.parameters}
    if len(names) != 1:
        return None
    (name,) = names
    values = [point.parameters[name] for point in points]
    return name if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values) else None


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _check_identifier(what: str, value: str) -> None:
    if not isinstance(value, str) or not _IDENTIFIER.match(value):
        raise ExperimentError(f"{what} {value!r} must be 1–200 letters, digits or . _ : -, "
                              "starting with a letter or digit")


def _check_inputs(inputs: Mapping[str, Any]) -> None:
    if not inputs:
        raise ExperimentError("an experiment needs at least one input parameter")
    for name, value in inputs.items():
        if not isinstance(value, (int, float, str, bool)) or (isinstance(value, float) and not math.isfinite(value)):
            raise ExperimentError(f"input {name!r} must be a finite number, text or true/false, not {value!r}")


def _check_pattern(pattern: str) -> None:
    if not pattern or "/" in pattern or "\\" in pattern:
        raise ExperimentError(f"file pattern {pattern!r} must be a glob on the file name, without folders "
                              "(e.g. 'exp7_*.csv')")
    if not set(pattern) - _GLOB_CHARS:
        raise ExperimentError(f"file pattern {pattern!r} would match every file; include part of the name")


def _check_point(index: int, point: Recommendation) -> None:
    where = f"point {index}"
    if not point.parameters:
        raise ExperimentError(f"{where}: parameters must not be empty")
    if point.phase not in PHASES:
        raise ExperimentError(f"{where}: unknown phase {point.phase!r}; use {' or '.join(PHASES)}")
    if not (math.isfinite(point.mean) and math.isfinite(point.uncertainty)) or point.uncertainty < 0:
        raise ExperimentError(f"{where}: mean must be finite and uncertainty finite and ≥ 0 "
                              f"(got {point.mean} ± {point.uncertainty})")
    if not point.model_version.strip():
        raise ExperimentError(f"{where}: model_version must not be empty")
    _check_inputs(point.parameters)


def _experiment(row: ExperimentRow) -> Experiment:
    return Experiment(row.experiment_id, row.campaign, dict(row.inputs), row.file_pattern, row.created_at)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)
