"""The catalog: every ingested file ("run"), its captured metadata, status and ingest events.

One SQLite file by default, any PostgreSQL database in production. The catalog is written at the
same time by the inbox sensor and by runs in other processes, so every write is a single short
transaction and registering a run is an atomic ``insert ... on conflict do nothing``.
"""

from __future__ import annotations

import functools
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (JSON, BigInteger, DateTime, Dialect, Float, ForeignKey, Index, String, Text,
                        TypeDecorator, and_, bindparam, create_engine, event, func, inspect, or_, select, text,
                        update)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.schema import CreateIndex
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from labflow.store import rollups
from labflow.ingest.metadata import RunMetadata
from labflow.settings import Settings, normalise_database_url

RUN_STATUSES = ("queued", "processing", "parsed", "processed", "failed")
# new: nobody has looked yet; needs_review: quality flags raised or a draft is open;
# confirmed / rejected: the latest confirmed annotation accepts / rejects the run.
REVIEW_STATUSES = ("new", "needs_review", "confirmed", "rejected")
RUN_SORTS = ("time", "quality", "instrument", "run_key")

_SQLITE_BUSY_TIMEOUT_MS = 30_000
_SCHEMA_LOCK_KEY = 0x1ABF10  # Postgres advisory lock held while creating the tables



T = TypeVar("T")


def retry_on_conflict(insert: Callable[[], T], *, attempts: int = 20) -> T:
    """Run ``insert`` (one transaction that takes the next number of something) again when a concurrent
    writer took the same unique key first, after a short random pause; the last conflict is raised."""
    for attempt in range(attempts):
        try:
            return insert()
        except IntegrityError:
            if attempt == attempts - 1:
                raise
            time.sleep(random.uniform(0.0, 0.02))
    raise AssertionError("unreachable")

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
    review_status: str = "new"
    annotation_version: int = 0


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
    campaign: Mapped[str | None] = mapped_column(String(200), index=True)  # params["campaign"], as text
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


class RunReviewRow(Base):
    """Where a run stands in review; ``head_version`` is its latest confirmed annotation version (0 = none)."""

    __tablename__ = "run_reviews"

    run_key: Mapped[str] = mapped_column(ForeignKey("runs.run_key", ondelete="CASCADE"), primary_key=True)
    review_status: Mapped[str] = mapped_column(String(20), index=True)
    head_version: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


# When a run happened: its start time if known, else when its file arrived. Dates filter and sort on it;
# never null (detected_at is not), so its order needs no NULLS clause and matches the index both ways.
RUN_TIME = func.coalesce(RunRow.started_at, RunRow.detected_at)
Index("ix_runs_run_time_key", RUN_TIME, RunRow.run_key)


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
        self._created: set[str] = set()
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
                     started_at=metadata.started_at, params=dict(metadata.params),
                     campaign=campaign_of(metadata.params))

    def set_status(self, run_key: str, status: str, *, error: str | None = None) -> None:
        """Move a run to ``status``; the error message is kept only for ``failed``."""
        _check_status(status)
        self._update(run_key, status=status, error=error if status == "failed" else None)

    def set_recipe(self, run_key: str, recipe_id: str, recipe_hash: str) -> None:
        """Record which recipe (and which version of it) processes the run."""
        self._update(run_key, recipe_id=recipe_id, recipe_hash=recipe_hash)

    def set_quality(self, run_key: str, score: float, flags: list[str], *, needs_review: bool | None = None) -> None:
        """Record the run's quality score and flags; a flagged run that nobody reviewed needs review.

        ``needs_review``: whether the flags call for a person (default: any flag; informational ones do not).
        """
        self._update(run_key, quality_score=float(score), quality_flags=list(flags))
        if needs_review if needs_review is not None else bool(flags):
            with self._session.begin() as session:
                self.mark_needs_review(session, run_key)

    def mark_needs_review(self, session: Session, run_key: str) -> None:
        """In ``session``: move a ``new`` run (or one without a review row) to ``needs_review``."""
        session.execute(self._insert(RunReviewRow).values(
            run_key=run_key, review_status="new", head_version=0, updated_at=_utcnow(),
        ).on_conflict_do_nothing(index_elements=["run_key"]))
        session.execute(update(RunReviewRow).where(RunReviewRow.run_key == run_key,
                                                   RunReviewRow.review_status == "new")
                        .values(review_status="needs_review", updated_at=_utcnow()))

    def get_run(self, run_key: str) -> RunRecord | None:
        """The run with this key, or ``None``."""
        with self._session() as session:
            row = session.execute(_RUNS_WITH_REVIEW.where(RunRow.run_key == run_key)).first()
            return None if row is None else _to_record(*row)

    def find_run_by_sha256(self, sha256: str) -> RunRecord | None:
        """The first registered run with these bytes, or ``None``."""
        query = _RUNS_WITH_REVIEW.where(RunRow.sha256 == sha256).order_by(RunRow.detected_at, RunRow.run_key)
        with self._session() as session:
            row = session.execute(query.limit(1)).first()
            return None if row is None else _to_record(*row)

    def find_runs(self, *, limit: int = 100, offset: int = 0, sort: str = "time", descending: bool = True,
                  after: RunPosition | None = None, **filters: Any) -> list[RunRecord]:
        """Runs matching every given filter, newest first by default.

        Filters (all optional, combined with AND): ``instrument``, ``operator``, ``material``,
        ``experiment_id``, ``campaign``, ``status``, ``review_status`` (exact), ``min_quality``/``max_quality``
        (inclusive), ``since`` (inclusive) and ``until`` (exclusive), which apply to ``started_at``
        or, when the start time is unknown, to ``detected_at``. ``sort`` is one of :data:`RUN_SORTS`; ties
        go by run key in the same direction. ``after`` (the :func:`run_position` of the last run of the
        previous page, same sort) seeks past it, so a page costs the same at the end as at the start and
        runs added meanwhile neither repeat nor push others off the page; ``offset`` counts from there.
        """
        if sort not in RUN_SORTS:
            raise ValueError(f"unknown sort {sort!r}; use one of {', '.join(RUN_SORTS)}")
        column = _SORT_COLUMNS[sort]
        if sort in _NULLABLE_SORTS:  # unknown quality or instrument last, whichever the direction
            order = [column.desc().nulls_last() if descending else column.asc().nulls_last()]
        else:
            order = [column.desc() if descending else column.asc()]
        if sort != "run_key":
            order.append(RunRow.run_key.desc() if descending else RunRow.run_key.asc())
        query = _RUNS_WITH_REVIEW.where(*_conditions(**filters))
        if after is not None:
            query = query.where(_after(sort, descending, after))
        query = query.order_by(*order).limit(limit).offset(offset)
        with self._session() as session:
            return [_to_record(*row) for row in session.execute(query)]

    def count_runs(self, **filters: Any) -> int:
        """How many runs :meth:`find_runs` would return with these filters and no limit."""
        query = select(func.count()).select_from(RunRow)
        if filters.get("review_status") is not None:
            query = query.outerjoin(RunReviewRow)
        with self._session() as session:
            return session.scalar(query.where(*_conditions(**filters))) or 0

    def run_counts(self) -> tuple[dict[str, int], dict[str, int]]:
        """Runs by processing status and by review status, every status named (two grouped counts)."""
        with self._session() as session:
            by_status = dict(session.execute(select(RunRow.status, func.count()).group_by(RunRow.status)).all())
            reviewed = dict(session.execute(select(RunReviewRow.review_status, func.count())
                                            .group_by(RunReviewRow.review_status)).all())
        statuses = {status: by_status.get(status, 0) for status in RUN_STATUSES}
        reviews = {review: reviewed.get(review, 0) for review in REVIEW_STATUSES}
        reviews["new"] = sum(by_status.values()) - sum(reviews.values()) + reviews["new"]  # no review row = new
        return statuses, reviews

    def distinct_values(self, column: str) -> list[str]:
        """The distinct non-empty values of ``instrument``, ``operator``, ``material``, ``experiment_id`` or
        ``campaign``."""
        if column not in ("instrument", "operator", "material", "experiment_id", "campaign"):
            raise ValueError(f"no distinct values for {column!r}")
        attribute = getattr(RunRow, column)
        query = select(attribute).where(attribute.is_not(None)).distinct().order_by(attribute)
        with self._session() as session:
            return list(session.scalars(query))

    def ingest_events(self, run_key: str | None = None) -> list[IngestEvent]:
        """Ingest events, oldest first, of one run or of all runs."""
        query = select(IngestEventRow).order_by(IngestEventRow.detected_at, IngestEventRow.id)
        if run_key is not None:
            query = query.where(IngestEventRow.run_key == run_key)
        with self._session() as session:
            return [IngestEvent(row.run_key, row.source, row.kind, row.detected_at)
                    for row in session.scalars(query)]

    def ingest_sources(self) -> dict[str, datetime]:
        """When each source (e.g. ``inbox:hplc-01/run.csv``) last delivered a file."""
        query = select(IngestEventRow.source, func.max(IngestEventRow.detected_at)).group_by(IngestEventRow.source)
        with self._session() as session:
            return {source: _as_utc(at) for source, at in session.execute(query)}

    def dispose(self) -> None:
        """Close every pooled database connection."""
        self.engine.dispose()

    def _update(self, run_key: str, **values: Any) -> None:
        statement = update(RunRow).where(RunRow.run_key == run_key).values(**values, updated_at=_utcnow())
        with self._session.begin() as session:
            if session.execute(statement).rowcount == 0:
                raise RunNotFound(run_key)

    def session(self) -> Session:
        """A new ORM session on the catalog database (use as a context manager)."""
        return self._session()

    def begin(self) -> Any:
        """A new session inside a transaction (``with catalog.begin() as session:``)."""
        return self._session.begin()

    def insert(self, table: Any) -> Any:
        """The dialect's ``INSERT`` construct (supports ``on_conflict_do_nothing``)."""
        return self._insert(table)

    def create_tables(self) -> None:
        """Create every table registered on :class:`Base` that is missing (safe to call again).

        Stores built per request or per sensor tick call this; it only touches the database when a
        module has registered tables this catalog has not created yet.
        """
        if set(Base.metadata.tables) - self._created:
            self._create_tables()

    def _create_tables(self) -> None:
        # Processes starting together must not both create the tables: take a lock first.
        registered = set(Base.metadata.tables)
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})
            else:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            Base.metadata.create_all(connection)
            _migrate(connection)
        self._created = registered


def _migrate(connection: Any) -> None:
    """Bring a catalog made by an older labflow up to date (idempotent, under the schema lock).

    Adds ``runs.campaign`` and fills it from each run's params (read in key order, a batch at a time),
    creates indexes that ``create_all`` does not add to existing tables, and the daily rollups
    (:mod:`labflow.store.rollups`) once the tables they count exist.
    """
    columns = {c["name"] for c in inspect(connection).get_columns("runs")}
    if "campaign" not in columns:
        connection.execute(text("ALTER TABLE runs ADD COLUMN campaign VARCHAR(200)"))
        _backfill_campaigns(connection)
    for table in (RunRow.__table__, IngestEventRow.__table__):
        for index in table.indexes:
            connection.execute(CreateIndex(index, if_not_exists=True))
    connection.execute(text("DROP INDEX IF EXISTS ix_runs_run_time"))  # replaced by ix_runs_run_time_key
    rollups.install(connection)


def _backfill_campaigns(connection: Any, batch: int = 5000) -> None:
    last = ""
    while True:
        rows = connection.execute(select(RunRow.run_key, RunRow.params).where(RunRow.run_key > last)
                                  .order_by(RunRow.run_key).limit(batch)).all()
        if not rows:
            return
        updates = [{"key": key, "campaign": campaign_of(params)} for key, params in rows if campaign_of(params)]
        if updates:
            connection.execute(update(RunRow).where(RunRow.run_key == bindparam("key"))
                               .values(campaign=bindparam("campaign")), updates)
        last = rows[-1][0]


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


_SORT_COLUMNS = {"time": RUN_TIME, "quality": RunRow.quality_score, "instrument": RunRow.instrument,
                 "run_key": RunRow.run_key}
_NULLABLE_SORTS = ("quality", "instrument")
RunPosition = tuple[Any, str]  # (the sort column's value, run key) of a run in a listing


def run_position(run: RunRecord, sort: str) -> RunPosition:
    """Where ``run`` stands in a listing sorted by ``sort``: the ``after`` of the next page."""
    value = {"time": run.started_at or run.detected_at, "quality": run.quality_score,
             "instrument": run.instrument, "run_key": run.run_key}[sort]
    return value, run.run_key


def _after(sort: str, descending: bool, position: RunPosition) -> Any:
    """Rows after ``position`` in the order of :meth:`Catalog.find_runs` (nulls last, ties by run key)."""
    value, key = position
    column = _SORT_COLUMNS[sort]
    beyond = (lambda c, v: c < v) if descending else (lambda c, v: c > v)
    if sort == "run_key":
        return beyond(RunRow.run_key, key)
    if value is None:  # inside the trailing nulls
        return and_(column.is_(None), beyond(RunRow.run_key, key))
    # ``column <= value`` (or >=) first: the bound the index seeks on; the rest settles ties.
    within = column <= value if descending else column >= value
    after = and_(within, or_(beyond(column, value), beyond(RunRow.run_key, key)))
    return or_(after, column.is_(None)) if sort in _NULLABLE_SORTS else after


_RUNS_WITH_REVIEW = (select(RunRow, RunReviewRow.review_status, RunReviewRow.head_version)
                     .outerjoin(RunReviewRow, RunReviewRow.run_key == RunRow.run_key))
_EXACT_FILTERS = {"instrument": RunRow.instrument, "operator": RunRow.operator, "material": RunRow.material,
                  "experiment_id": RunRow.experiment_id, "campaign": RunRow.campaign, "status": RunRow.status}


def _conditions(*, review_status: str | None = None, min_quality: float | None = None,
                max_quality: float | None = None, since: datetime | None = None, until: datetime | None = None,
                **exact: str | None) -> list[Any]:
    unknown = set(exact) - set(_EXACT_FILTERS)
    if unknown:
        raise ValueError(f"unknown run filter(s) {', '.join(sorted(unknown))}")
    if exact.get("status") is not None:
        _check_status(exact["status"])  # type: ignore[arg-type]
    conditions = [_EXACT_FILTERS[name] == value for name, value in exact.items() if value is not None]
    if review_status is not None:
        if review_status not in REVIEW_STATUSES:
            raise ValueError(f"unknown review status {review_status!r}; use one of {', '.join(REVIEW_STATUSES)}")
        current = func.coalesce(RunReviewRow.review_status, "new")
        conditions.append(current == review_status)
    if min_quality is not None:
        conditions.append(RunRow.quality_score >= min_quality)
    if max_quality is not None:
        conditions.append(RunRow.quality_score <= max_quality)
    if since is not None:
        conditions.append(RUN_TIME >= since)
    if until is not None:
        conditions.append(RUN_TIME < until)
    return conditions


def campaign_of(params: dict[str, Any] | None) -> str | None:
    """The campaign a run belongs to: its ``campaign`` parameter as text (``None`` without one)."""
    value = (params or {}).get("campaign")
    return None if value is None else str(value)


def _check_status(status: str) -> None:
    if status not in RUN_STATUSES:
        raise ValueError(f"unknown run status {status!r}; use one of {', '.join(RUN_STATUSES)}")


_REVIEW_FIELDS = ("review_status", "annotation_version")


def _to_record(row: RunRow, review_status: str | None = None, head_version: int | None = None) -> RunRecord:
    values = {f.name: getattr(row, f.name) for f in fields(RunRecord) if f.name not in _REVIEW_FIELDS}
    return RunRecord(**values, review_status=review_status or "new", annotation_version=head_version or 0)


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)
