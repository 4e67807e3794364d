"""Operations statistics: what the data factory did in a period, by bucket, beside the period before.

The catalog's part is counted where the data is: :func:`load_catalog_data` runs a few grouped SQL
counts (by UTC day, period, status, quality bin, event kind, verdict) over the rows of the period and
the one before, found by the time indexes, so the cost follows the runs *in* the period, not the
catalog's history. Dagster runs and asset-check evaluations come from the Dagster instance
(``lab_assets/gateway.py``). :func:`compute_stats` turns those tables into the same numbers
for whoever asks (API, app, tests).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import polars as pl
from sqlalchemy import and_, case, func, literal, literal_column, or_, select
from sqlalchemy.sql import ColumnElement

from labflow.store import rollups
from labflow.store.catalog import Catalog, IngestEventRow, RunReviewRow, RunRow
from labflow.ops.periods import Bucket, Period, bucket_start, bucket_starts
from labflow.review.store import AnnotationVersionRow
from labflow.ttl_cache import TtlCache

UTC_US = pl.Datetime("us", "UTC")
RUN_COUNTS_SCHEMA = {"day": pl.Date, "current": pl.Boolean, "status": pl.String, "quality_bin": pl.Int64,
                     "runs": pl.Int64, "quality_sum": pl.Float64, "quality_n": pl.Int64}
EVENT_COUNTS_SCHEMA = {"day": pl.Date, "current": pl.Boolean, "kind": pl.String, "n": pl.Int64}
VERSION_COUNTS_SCHEMA = {"day": pl.Date, "current": pl.Boolean, "verdict": pl.String, "n": pl.Int64}
DAGSTER_RUNS_SCHEMA = {"run_id": pl.String, "start": UTC_US, "end": UTC_US, "status": pl.String, "files": pl.Int64}
CHECKS_SCHEMA = {"run_key": pl.String, "at": UTC_US, "check": pl.String, "passed": pl.Boolean}
QUALITY_BINS = list(rollups.QUALITY_BINS)
CONFIRMING = ("valid", "peaks_wrong")
REJECTING = ("invalid", "failed_experiment")
BACKLOG_SECONDS = 10.0  # the backlog (a count over every processed run) is recounted at most this often
_BACKLOG = TtlCache(BACKLOG_SECONDS)


@dataclass(frozen=True)
class StatsFilters:
    """Restrict the statistics to one instrument, recipe version (content hash) or campaign."""

    instrument: str | None = None
    recipe_hash: str | None = None
    campaign: str | None = None

    def active(self) -> dict[str, str]:
        return {k: v for k, v in vars(self).items() if v}

    def conditions(self) -> list[ColumnElement[bool]]:
        """The filters as conditions on the runs table."""
        return [getattr(RunRow, name) == value for name, value in self.active().items()]


@dataclass(frozen=True)
class OpsData:
    """What the statistics of ``period`` are computed from: catalog counts by UTC day of the period
    (``current``) and of the one before, the review backlog now, and the Dagster tables (raw rows)."""

    period: Period
    runs: pl.DataFrame
    events: pl.DataFrame
    versions: pl.DataFrame
    backlog: int
    filters: StatsFilters = StatsFilters()
    dagster_runs: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=DAGSTER_RUNS_SCHEMA))
    checks: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=CHECKS_SCHEMA))


def load_catalog_data(catalog: Catalog, period: Period, filters: StatsFilters = StatsFilters(),
                      dagster_runs: pl.DataFrame | None = None, checks: pl.DataFrame | None = None) -> OpsData:
    """The catalog's counts for ``period`` and the period before, restricted by ``filters``, with the
    Dagster tables if given (checks kept only of runs that match ``filters``).

    Whole UTC days are read from the daily rollups (:mod:`labflow.store.rollups`), a few rows a day however
    many runs it had; the part-days at a period's edges (custom times), and every day when two or more
    filters combine, count the rows themselves (found by the time indexes).
    """
    catalog.create_tables()  # the rollups need every table they count
    raw: list[tuple[datetime, datetime]] = []  # time ranges whose rows are counted themselves
    whole: list[tuple[date, date]] = []  # day ranges summed from the rollups
    for start, end in ((period.previous().start, period.start), (period.start, period.end)):
        first, last = _ceil_day(start), _floor_day(end)
        if first >= last or len(filters.active()) > 1:  # within one day, or filters the rollups do not cut by
            raw.append((start, end))
            continue
        raw += [(start, _midnight(first)), (_midnight(last), end)]
        whole.append((first, last))
    raw = [(start, end) for start, end in raw if start < end]
    queries = {kind: [] for kind in _ROLLED}
    if raw:
        for kind, query in _raw_queries(catalog, raw, period.start, filters).items():
            queries[kind].append(query)
    if whole:
        for kind, (table, keys, counts) in _ROLLED.items():
            queries[kind].append(_rolled(table, keys, counts, whole, _ceil_day(period.start), filters))
    with catalog.session() as session:
        frames = [_frame([row for query in queries[kind] for row in session.execute(query)], schema)
                  for kind, schema in (("runs", RUN_COUNTS_SCHEMA), ("events", EVENT_COUNTS_SCHEMA),
                                       ("versions", VERSION_COUNTS_SCHEMA))]
    backlog = _BACKLOG.get((str(catalog.engine.url), filters), lambda: review_backlog(catalog, filters))
    if checks is None:
        checks = pl.DataFrame(schema=CHECKS_SCHEMA)
    elif filters.active():
        checks = checks.filter(pl.col("run_key").is_in(list(runs_matching(catalog, checks["run_key"], filters))))
    if dagster_runs is None:
        dagster_runs = pl.DataFrame(schema=DAGSTER_RUNS_SCHEMA)
    return OpsData(period, *frames, backlog=backlog, filters=filters, dagster_runs=dagster_runs, checks=checks)


def review_backlog(catalog: Catalog, filters: StatsFilters = StatsFilters()) -> int:
    """Processed runs that nobody has confirmed or rejected yet (a state of now)."""
    processed = select(func.count()).select_from(RunRow).where(RunRow.status == "processed", *filters.conditions())
    decided = (processed.join(RunReviewRow, RunReviewRow.run_key == RunRow.run_key)
               .where(RunReviewRow.review_status.in_(("confirmed", "rejected"))))
    with catalog.session() as session:
        return (session.scalar(processed) or 0) - (session.scalar(decided) or 0)


def runs_matching(catalog: Catalog, run_keys: Iterable[str], filters: StatsFilters, batch: int = 900) -> set[str]:
    """Those of ``run_keys`` whose runs match ``filters``."""
    keys, found = sorted(set(run_keys)), set()
    with catalog.session() as session:
        for start in range(0, len(keys), batch):
            found.update(session.scalars(select(RunRow.run_key).where(
                RunRow.run_key.in_(keys[start:start + batch]), *filters.conditions())))
    return found


def compute_stats(data: OpsData, bucket: Bucket = "day") -> dict[str, Any]:
    """KPIs of the period and of the period before, their changes, and a per-bucket table."""
    period = data.period
    current = _kpis(data, period, True)
    previous = _kpis(data, period.previous(), False)
    previous["backlog_awaiting_review"] = None  # a state of now, not of a period
    runs = data.runs.filter(pl.col("current"))
    return {
        "period": {"start": period.start, "end": period.end, "label": period.label, "bucket": bucket},
        "filters": data.filters.active(),
        "kpis": current,
        "previous": previous,
        "change": {k: _change(current[k], previous[k]) for k in current if isinstance(current[k], (int, float))},
        "by_bucket": by_bucket(data, bucket).to_dicts(),
        "runs_by_status": {str(k): int(v) for k, v in
                           runs.group_by("status").agg(pl.col("runs").sum()).sort("status").iter_rows()},
        "quality_histogram": quality_histogram(runs),
    }


def by_bucket(data: OpsData, bucket: Bucket) -> pl.DataFrame:
    """One row per bucket of the period: files ingested, duplicates, failed runs, confirmed and rejected
    annotations, failed checks."""
    rows = {start: {"bucket": start, "files": 0, "duplicates": 0, "failed": 0, "confirmed": 0, "rejected": 0,
                    "check_failures": 0} for start in bucket_starts(data.period, bucket)}

    def add(frame: pl.DataFrame, count: str, key: str) -> None:
        for day, n in frame.filter(pl.col("current")).select("day", count).iter_rows():
            rows[bucket_start(day, bucket)][key] += n

    add(data.events.filter(pl.col("kind") == "new"), "n", "files")
    add(data.events.filter(pl.col("kind") == "duplicate"), "n", "duplicates")
    add(data.runs.filter(pl.col("status") == "failed"), "runs", "failed")
    add(data.versions.filter(pl.col("verdict").is_in(CONFIRMING)), "n", "confirmed")
    add(data.versions.filter(pl.col("verdict").is_in(REJECTING)), "n", "rejected")
    for moment in _in(data.checks.filter(~pl.col("passed")), "at", data.period)["at"].to_list():
        rows[bucket_start(moment, bucket)]["check_failures"] += 1
    return pl.DataFrame(list(rows.values()), schema={"bucket": pl.Date, "files": pl.Int64, "duplicates": pl.Int64,
                                                     "failed": pl.Int64, "confirmed": pl.Int64,
                                                     "rejected": pl.Int64, "check_failures": pl.Int64})


def quality_histogram(runs: pl.DataFrame) -> list[dict[str, Any]]:
    """How many runs fall in each fifth of the 0–1 quality score (runs without a score left out)."""
    counts = dict(runs.group_by("quality_bin").agg(pl.col("runs").sum()).iter_rows())
    return [{"bin": f"{low:.1f}–{high:.1f}", "runs": int(counts.get(i, 0))}
            for i, (low, high) in enumerate(zip(QUALITY_BINS[:-1], QUALITY_BINS[1:]))]


def _kpis(data: OpsData, period: Period, current: bool) -> dict[str, Any]:
    runs = data.runs.filter(pl.col("current") == current)
    events = data.events.filter(pl.col("current") == current)
    versions = data.versions.filter(pl.col("current") == current)
    files = _total(events.filter(pl.col("kind") == "new"), "n")
    per_file = _per_file_seconds(_in(data.dagster_runs, "end", period))
    hours = period.duration.total_seconds() / 3600
    days = max(period.duration.total_seconds() / 86400, 1.0)
    confirmed = _total(versions.filter(pl.col("verdict").is_in(CONFIRMING)), "n")
    scored = _total(runs, "quality_n")
    return {
        "files_ingested": files,
        "duplicates": _total(events.filter(pl.col("kind") == "duplicate"), "n"),
        "runs_failed": _total(runs.filter(pl.col("status") == "failed"), "runs"),
        "runs_processed": _total(runs.filter(pl.col("status") == "processed"), "runs"),
        "check_failures": _in(data.checks, "at", period).filter(~pl.col("passed")).height,
        "etl_seconds_per_file_p50": _quantile(per_file, 0.5),
        "etl_seconds_per_file_p95": _quantile(per_file, 0.95),
        "throughput_files_per_hour": round(files / hours, 3) if hours else 0.0,
        "mean_quality": round(float(runs["quality_sum"].sum()) / scored, 4) if scored else None,
        "confirmed": confirmed,
        "confirmed_per_day": round(confirmed / days, 3),
        "rejected": _total(versions.filter(pl.col("verdict").is_in(REJECTING)), "n"),
        # Backlog is "now", not a period sum: processed runs nobody has confirmed or rejected yet.
        "backlog_awaiting_review": data.backlog,
    }


def _raw_queries(catalog: Catalog, ranges: list[tuple[datetime, datetime]], split: datetime,
                 filters: StatsFilters) -> dict[str, Any]:
    """Per kind, one query counting the rows themselves in ``ranges`` (part-days), ``current`` from ``split``."""
    day, conditions = _day_of(catalog.engine.dialect.name), filters.conditions()
    counts = (func.count(), func.coalesce(func.sum(RunRow.quality_score), 0.0), func.count(RunRow.quality_score))
    return {
        "runs": _grouped(RunRow.detected_at, ranges, split, day, [RunRow.status, _quality_bin()], conditions, counts),
        "events": _grouped(IngestEventRow.detected_at, ranges, split, day, [IngestEventRow.kind], conditions,
                           (func.count(),), join=IngestEventRow.run_key),
        "versions": _grouped(AnnotationVersionRow.created_at, ranges, split, day, [AnnotationVersionRow.verdict],
                             conditions, (func.count(),), join=AnnotationVersionRow.run_key)}


def _grouped(moment: Any, ranges: list[tuple[datetime, datetime]], split: datetime, day: Any, keys: list[Any],
             conditions: list[Any], counts: tuple[Any, ...], join: Any = None) -> Any:
    """``day, current, *keys, *counts`` of the rows whose ``moment`` lies in one of ``ranges`` (current from
    ``split`` on); rows of another table are restricted through their run (``join``) only when filters apply."""
    current = case((moment >= split, literal(1)), else_=literal(0))
    columns = [day(moment).label("day"), current.label("current"), *keys]
    query = select(*columns, *counts).where(or_(*(and_(moment >= start, moment < end) for start, end in ranges)))
    if conditions:
        if join is not None:
            query = query.join(RunRow, RunRow.run_key == join)
        query = query.where(*conditions)
    # GROUP BY 1, 2, …: by the selected expressions themselves (their bound values included).
    return query.group_by(*(literal_column(str(i)) for i in range(1, len(columns) + 1)))


def _rolled(table: Any, keys: tuple[str, ...], counts: tuple[str, ...], ranges: list[tuple[date, date]],
            split: date, filters: StatsFilters) -> Any:
    """The same counts for the whole days in ``ranges`` (current from day ``split`` on), summed from a daily
    rollup (in total, or cut by the one active filter)."""
    c = table.c
    dimension, value = next(iter(filters.active().items()), ("", ""))
    current = case((c.day >= split.isoformat(), literal(1)), else_=literal(0))
    days = or_(*(and_(c.day >= first.isoformat(), c.day < last.isoformat()) for first, last in ranges))
    return (select(c.day, current, *(c[k] for k in keys), *(func.sum(c[n]) for n in counts))
            .where(c.dimension == dimension, c.value == value, days)
            .group_by(c.day, *(c[k] for k in keys)).having(func.sum(c[counts[0]]) != 0))  # runs that moved on


_ROLLED = {"runs": (rollups.RUN_DAYS, ("status", "quality_bin"), ("runs", "quality_sum", "quality_n")),
           "events": (rollups.EVENT_DAYS, ("kind",), ("n",)),
           "versions": (rollups.VERSION_DAYS, ("verdict",), ("n",))}


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=timezone.utc)


def _floor_day(moment: datetime) -> date:
    return moment.astimezone(timezone.utc).date()


def _ceil_day(moment: datetime) -> date:
    day = _floor_day(moment)
    return day if _midnight(day) == moment else day + timedelta(days=1)


def _quality_bin() -> Any:
    """Which fifth of 0–1 the quality score falls in (the last one includes 1.0); -1 outside or unknown."""
    score = RunRow.quality_score
    whens = [(and_(score >= low, score < high if high < 1.0 else score <= high), literal(i))
             for i, (low, high) in enumerate(zip(QUALITY_BINS[:-1], QUALITY_BINS[1:]))]
    return case(*whens, else_=literal(-1)).label("quality_bin")


def _day_of(dialect: str) -> Any:
    """The UTC date of a timestamp column, as ``YYYY-MM-DD`` text (SQLite keeps UTC text, PostgreSQL a
    ``timestamptz``)."""
    if dialect == "sqlite":
        return lambda column: func.substr(column, 1, 10)
    return lambda column: func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")


def _per_file_seconds(dagster_runs: pl.DataFrame) -> pl.Series:
    # A batch with a bad file still processes every file and then fails: its time counts too.
    finished = dagster_runs.filter(pl.col("status").is_in(["SUCCESS", "FAILURE"]))
    seconds = (finished["end"] - finished["start"]).dt.total_microseconds() / 1e6
    return seconds / finished["files"].clip(lower_bound=1)


def _in(frame: pl.DataFrame, column: str, period: Period) -> pl.DataFrame:
    return frame.filter((pl.col(column) >= period.start) & (pl.col(column) < period.end))


def _total(frame: pl.DataFrame, column: str) -> int:
    return int(frame[column].sum() or 0)


def _quantile(values: pl.Series, q: float) -> float | None:
    return None if values.is_empty() else round(float(values.quantile(q, interpolation="linear")), 3)


def _change(current: float | None, previous: float | None) -> float | None:
    """Relative change from the previous period (0.25 = +25 %); ``None`` when there is no base."""
    if current is None or previous in (None, 0):
        return None
    return round((current - previous) / previous, 4)


def _frame(rows: Any, schema: dict[str, Any]) -> pl.DataFrame:
    frame = pl.DataFrame([tuple(r) for r in rows], schema={**schema, "day": pl.String, "current": pl.Int64},
                         orient="row")
    return frame.with_columns(pl.col("day").str.to_date("%Y-%m-%d"), pl.col("current").cast(pl.Boolean))
