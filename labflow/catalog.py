"""The catalog: every ingested file ("run"), its captured metadata, status and ingest events.

One SQLite file by default, any PostgreSQL database in production. The catalog is written at the
same time by the inbox sensor and by runs in other processes, so every write is a single short
transaction and registering a run is an atomic ``insert ... on conflict do nothing``.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import (JSON, BigInteger, DateTime, Dialect, Float, ForeignKey, Index, String, Text,
                        TypeDecorator, create_engine, event, func, select, text, update)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from labflow.metadata import RunMetadata
from labflow.settings import Settings, normalise_database_url

RUN_STATUSES = ("queued", "processing", "parsed", "processed", "failed")

_SQLITE_BUSY_TIMEOUT_MS = 30_000
_SCHEMA_LOCK_KEY = 0x1ABF10  # Postgres advisory lock held while creating the tables


class RunNotFound(LookupError):
    """The run key is not in the catalog."""

    def __init__(self, run_key: str):
        super().__init__(f"run {run_key!r} is not in the catalog; ingest the file first")
        self.run_key = run_key


@dataclass(frozen=True)
class RunRecord:
    """One run as stored in the catalog; every datetime is timezone-aware UTC."""

    run_key: str
    sha256: str
    size_bytes: int
    original_name: str
    source: str
    object_path: str
    sidecar_name: str | None
    sidecar_text: str | None
    detected_at: datetime
    instrument: str | None
    operator: str | None
    material: str | None
    experiment_id: str | None
    started_at: datetime | None
    params: dict[str, Any]
    status: str
    error: str | None
    recipe_id: str | None
    recipe_hash: str | None
    updated_at: datetime
    quality_score: float | None
    quality_flags: list[str]


@dataclass(frozen=True)
class IngestEvent:
    """A file arriving: ``kind`` is ``"new"`` for the first copy, ``"duplicate"`` for the same bytes again."""

    run_key: str
    source: str
    kind: str
    detected_at: datetime


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware (naive input is taken as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else _as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else _as_utc(value)


class Base(DeclarativeBase):
    pass


class RunRow(Base):
    __tablename__ = "runs"

    run_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    original_name: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    object_path: Mapped[str] = mapped_column(Text)
    sidecar_name: Mapped[str | None] = mapped_column(Text)
    sidecar_text: Mapped[str | None] = mapped_column(Text)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    instrument: Mapped[str | None] = mapped_column(String(200), index=True)
    operator: Mapped[str | None] = mapped_column(String(200), index=True)
    material: Mapped[str | None] = mapped_column(String(200), index=True)
    experiment_id: Mapped[str | None] = mapped_column(String(200), index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), index=True)
    error: Mapped[str | None] = mapped_column(Text)
    recipe_id: Mapped[str | None] = mapped_column(String(200))
    recipe_hash: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    quality_score: Mapped[float | None] = mapped_column(Float)
    quality_flags: Mapped[list[str]] = mapped_column(JSON)


class IngestEventRow(Base):
    __tablename__ = "ingest_events"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    run_key: Mapped[str] = mapped_column(ForeignKey("runs.run_key", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20))
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


# When a run happened: its start time if known, else when its file arrived. Dates filter and sort on it.
RUN_TIME = func.coalesce(RunRow.started_at, RunRow.detected_at)
Index("ix_runs_run_time", RUN_TIME)


class Catalog:
    """Records runs and their metadata in a SQLite or PostgreSQL database (tables created if missing)."""

    def __init__(self, url: str, *, echo: bool = False):
        url = normalise_database_url(url)
        self.engine = create_engine(url, echo=echo, pool_pre_ping=True,
                                    json_serializer=functools.partial(json.dumps, default=str))
        dialect = self.engine.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"the catalog needs a SQLite or PostgreSQL database URL, got a {dialect!r} one")
        if dialect == "sqlite":
            _prepare_sqlite(self.engine, url)
        self._insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self._create_tables()

    @classmethod
    def from_settings(cls, settings: Settings) -> "Catalog":
        """The catalog at ``settings.database_url``."""
        return cls(settings.database_url)

    def register_file(self, *, run_key: str, sha256: str, size_bytes: int, original_name: str, source: str,
                      object_path: str, sidecar_name: str | None, sidecar_text: str | None,
                      detected_at: datetime) -> None:
        """Record a new run (status ``queued``) and its ``new`` ingest event.

        Idempotent: registering a known run key again, even from another process at the same
        moment, changes nothing (the first ``detected_at`` and the single event are kept).
        """
        row = dict(run_key=run_key, sha256=sha256, size_bytes=size_bytes, original_name=original_name,
                   source=source, object_path=object_path, sidecar_name=sidecar_name, sidecar_text=sidecar_text,
                   detected_at=detected_at, params={}, status="queued", updated_at=_utcnow(), quality_flags=[])
        insert_run = self._insert(RunRow).values(**row).on_conflict_do_nothing(index_elements=["run_key"])
        with self._session.begin() as session:
            if session.execute(insert_run).rowcount == 1:
                session.add(IngestEventRow(run_key=run_key, source=source, kind="new", detected_at=detected_at))

    def record_duplicate(self, *, run_key: str, source: str, detected_at: datetime) -> None:
        """Record that the bytes of ``run_key`` arrived again from ``source``; the run itself is untouched."""
        with self._session.begin() as session:
            if session.get(RunRow, run_key) is None:
                raise RunNotFound(run_key)
            session.add(IngestEventRow(run_key=run_key, source=source, kind="duplicate", detected_at=detected_at))

    def set_metadata(self, run_key: str, metadata: RunMetadata) -> None:
        """Replace the captured metadata of a run."""
        self._update(run_key, instrument=metadata.instrument, operator=metadata.operator,
                     material=metadata.material, experiment_id=metadata.experiment_id,
                     started_at=metadata.started_at, params=dict(metadata.params))

    def set_status(self, run_key: str, status: str, *, error: str | None = None) -> None:
        """Move a run to ``status``; the error message is kept only for ``failed``."""
        _check_status(status)
        self._update(run_key, status=status, error=error if status == "failed" else None)

    def set_recipe(self, run_key: str, recipe_id: str, recipe_hash: str) -> None:
        """Record which recipe (and which version of it) processes the run."""
        self._update(run_key, recipe_id=recipe_id, recipe_hash=recipe_hash)

    def set_quality(self, run_key: str, score: float, flags: list[str]) -> None:
        """Record the run's quality score and flags."""
        self._update(run_key, quality_score=float(score), quality_flags=list(flags))

    def get_run(self, run_key: str) -> RunRecord | None:
        """The run with this key, or ``None``."""
        with self._session() as session:
            row = session.get(RunRow, run_key)
            return None if row is None else _to_record(row)

    def find_run_by_sha256(self, sha256: str) -> RunRecord | None:
        """The first registered run with these bytes, or ``None``."""
        query = select(RunRow).where(RunRow.sha256 == sha256).order_by(RunRow.detected_at, RunRow.run_key)
        with self._session() as session:
            row = session.scalars(query.limit(1)).first()
            return None if row is None else _to_record(row)

    def find_runs(self, *, instrument: str | None = None, operator: str | None = None,
                  material: str | None = None, experiment_id: str | None = None, status: str | None = None,
                  since: datetime | None = None, until: datetime | None = None,
                  limit: int = 100, offset: int = 0) -> list[RunRecord]:
        """Runs matching every given filter exactly, newest first.

        ``since`` (inclusive) and ``until`` (exclusive) apply to ``started_at``, or to
        ``detected_at`` when the start time is unknown.
        """
        query = select(RunRow).where(*_conditions(instrument, operator, material, experiment_id, status,
                                                  since, until))
        query = query.order_by(RUN_TIME.desc(), RunRow.run_key).limit(limit).offset(offset)
        with self._session() as session:
            return [_to_record(row) for row in session.scalars(query)]

    def count_runs(self, *, instrument: str | None = None, operator: str | None = None,
                   material: str | None = None, experiment_id: str | None = None, status: str | None = None,
                   since: datetime | None = None, until: datetime | None = None) -> int:
        """How many runs :meth:`find_runs` would return without a limit."""
        query = select(func.count()).select_from(RunRow).where(
            *_conditions(instrument, operator, material, experiment_id, status, since, until))
        with self._session() as session:
            return session.scalar(query) or 0

    def ingest_events(self, run_key: str | None = None) -> list[IngestEvent]:
        """Ingest events, oldest first, of one run or of all runs."""
        query = select(IngestEventRow).order_by(IngestEventRow.detected_at, IngestEventRow.id)
        if run_key is not None:
            query = query.where(IngestEventRow.run_key == run_key)
        with self._session() as session:
            return [IngestEvent(row.run_key, row.source, row.kind, row.detected_at)
                    for row in session.scalars(query)]

    def dispose(self) -> None:
        """Close every pooled database connection."""
        self.engine.dispose()

    def _update(self, run_key: str, **values: Any) -> None:
        statement = update(RunRow).where(RunRow.run_key == run_key).values(**values, updated_at=_utcnow())
        with self._session.begin() as session:
            if session.execute(statement).rowcount == 0:
                raise RunNotFound(run_key)

    def _create_tables(self) -> None:
        # Processes starting together must not both create the tables: take a lock first.
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})
            else:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            Base.metadata.create_all(connection)


def _prepare_sqlite(engine: Engine, url: str) -> None:
    """Create the file's folder; WAL and a busy timeout on every connection, so processes wait, not fail."""
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {_SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()


def _conditions(instrument: str | None, operator: str | None, material: str | None,
                experiment_id: str | None, status: str | None,
                since: datetime | None, until: datetime | None) -> list[Any]:
    exact = {RunRow.instrument: instrument, RunRow.operator: operator, RunRow.material: material,
             RunRow.experiment_id: experiment_id, RunRow.status: status}
    if status is not None:
        _check_status(status)
    conditions = [column == value for column, value in exact.items() if value is not None]
    if since is not None:
        conditions.append(RUN_TIME >= since)
    if until is not None:
        conditions.append(RUN_TIME < until)
    return conditions


def _check_status(status: str) -> None:
    if status not in RUN_STATUSES:
        raise ValueError(f"unknown run status {status!r}; use one of {', '.join(RUN_STATUSES)}")


def _to_record(row: RunRow) -> RunRecord:
    return RunRecord(**{f.name: getattr(row, f.name) for f in fields(RunRecord)})


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)
