"""Operations statistics: what the data factory did in a period, by bucket, beside the period before.

Inputs are plain tables (:class:`OpsData`): runs, ingest events and confirmed annotation versions
from the catalog (:func:`load_catalog_data`), and Dagster runs and asset-check evaluations, which the
caller reads from the Dagster instance (``resources/ops_facts.py``). Everything here is polars over
those tables, so the same numbers come out whoever asks (API, app, tests).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import select

from labflow.store.catalog import Catalog, IngestEventRow, RunReviewRow, RunRow
from labflow.ops.periods import Bucket, Period, bucket_start, bucket_starts
from labflow.review.store import AnnotationVersionRow

UTC_US = pl.Datetime("us", "UTC")
RUNS_SCHEMA = {"run_key": pl.String, "detected_at": UTC_US, "status": pl.String, "instrument": pl.String,
               "recipe_hash": pl.String, "campaign": pl.String, "quality_score": pl.Float64,
               "review_status": pl.String}
EVENTS_SCHEMA = {"run_key": pl.String, "kind": pl.String, "at": UTC_US}
VERSIONS_SCHEMA = {"run_key": pl.String, "at": UTC_US, "verdict": pl.String}
DAGSTER_RUNS_SCHEMA = {"run_id": pl.String, "start": UTC_US, "end": UTC_US, "status": pl.String, "files": pl.Int64}
CHECKS_SCHEMA = {"run_key": pl.String, "at": UTC_US, "check": pl.String, "passed": pl.Boolean}
QUALITY_BINS = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]


@dataclass(frozen=True)
class StatsFilters:
    """Restrict the statistics to one instrument, recipe version (content hash) or campaign."""

    instrument: str | None = None
    recipe_hash: str | None = None
    campaign: str | None = None

    def active(self) -> dict[str, str]:
        return {k: v for k, v in vars(self).items() if v}


@dataclass(frozen=True)
class OpsData:
    """The tables statistics are computed from (see the module docstring)."""

    runs: pl.DataFrame
    events: pl.DataFrame
    versions: pl.DataFrame
    dagster_runs: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=DAGSTER_RUNS_SCHEMA))
    checks: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=CHECKS_SCHEMA))


def load_catalog_data(catalog: Catalog, since: datetime | None = None) -> OpsData:
    """Runs, ingest events and confirmed versions from the catalog (events and versions from ``since`` on)."""
    runs_query = select(RunRow.run_key, RunRow.detected_at, RunRow.status, RunRow.instrument, RunRow.recipe_hash,
                        RunRow.params, RunRow.quality_score, RunReviewRow.review_status
                        ).outerjoin(RunReviewRow, RunReviewRow.run_key == RunRow.run_key)
    events_query = select(IngestEventRow.run_key, IngestEventRow.kind, IngestEventRow.detected_at)
    versions_query = select(AnnotationVersionRow.run_key, AnnotationVersionRow.created_at,
                            AnnotationVersionRow.verdict)
    if since is not None:
        events_query = events_query.where(IngestEventRow.detected_at >= since)
        versions_query = versions_query.where(AnnotationVersionRow.created_at >= since)
    with catalog.session() as session:
        runs = [(key, detected, status, instrument, recipe_hash, _campaign(params), quality, review or "new")
                for key, detected, status, instrument, recipe_hash, params, quality, review
                in session.execute(runs_query)]
        events = list(session.execute(events_query))
        versions = list(session.execute(versions_query))
    return OpsData(runs=_frame(runs, RUNS_SCHEMA), events=_frame(events, EVENTS_SCHEMA),
                   versions=_frame(versions, VERSIONS_SCHEMA))


def compute_stats(data: OpsData, period: Period, bucket: Bucket = "day",
                  filters: StatsFilters = StatsFilters()) -> dict[str, Any]:
    """KPIs of ``period`` and of the period before, their changes, and a per-bucket table."""
    data = _filtered(data, filters)
    current = _kpis(data, period)
    previous = _kpis(data, period.previous())
    previous["backlog_awaiting_review"] = None  # a state of now, not of a period
    return {
        "period": {"start": period.start, "end": period.end, "label": period.label, "bucket": bucket},
        "filters": filters.active(),
        "kpis": current,
        "previous": previous,
        "change": {k: _change(current[k], previous[k]) for k in current if isinstance(current[k], (int, float))},
        "by_bucket": by_bucket(data, period, bucket).to_dicts(),
        "runs_by_status": _counts(_in(data.runs, "detected_at", period), "status"),
        "quality_histogram": quality_histogram(_in(data.runs, "detected_at", period)),
    }


def by_bucket(data: OpsData, period: Period, bucket: Bucket) -> pl.DataFrame:
    """One row per bucket: files ingested, duplicates, failed runs, confirmed and rejected annotations."""
    rows = {start: {"bucket": start, "files": 0, "duplicates": 0, "failed": 0, "confirmed": 0, "rejected": 0,
                    "check_failures": 0} for start in bucket_starts(period, bucket)}

    def add(frame: pl.DataFrame, column: str, key: str) -> None:
        for moment in _in(frame, column, period)[column].to_list():
            rows[bucket_start(moment, bucket)][key] += 1

    add(data.events.filter(pl.col("kind") == "new"), "at", "files")
    add(data.events.filter(pl.col("kind") == "duplicate"), "at", "duplicates")
    add(data.runs.filter(pl.col("status") == "failed"), "detected_at", "failed")
    add(data.versions.filter(pl.col("verdict").is_in(["valid", "peaks_wrong"])), "at", "confirmed")
    add(data.versions.filter(pl.col("verdict").is_in(["invalid", "failed_experiment"])), "at", "rejected")
    add(data.checks.filter(~pl.col("passed")), "at", "check_failures")
    return pl.DataFrame(list(rows.values()), schema={"bucket": pl.Date, "files": pl.Int64, "duplicates": pl.Int64,
                                                     "failed": pl.Int64, "confirmed": pl.Int64,
                                                     "rejected": pl.Int64, "check_failures": pl.Int64})


def quality_histogram(runs: pl.DataFrame) -> list[dict[str, Any]]:
    """How many runs fall in each fifth of the 0–1 quality score (runs without a score left out)."""
    scores = runs["quality_score"].drop_nulls().to_list()
    result = []
    for low, high in zip(QUALITY_BINS[:-1], QUALITY_BINS[1:]):
        inside = [s for s in scores if low <= s < high or (high == 1.0 and s == 1.0)]
        result.append({"bin": f"{low:.1f}–{high:.1f}", "runs": len(inside)})
    return result


def _kpis(data: OpsData, period: Period) -> dict[str, Any]:
    events = _in(data.events, "at", period)
    runs = _in(data.runs, "detected_at", period)
    versions = _in(data.versions, "at", period)
    dagster_runs = _in(data.dagster_runs, "end", period)
    checks = _in(data.checks, "at", period)
    files = events.filter(pl.col("kind") == "new").height
    per_file = _per_file_seconds(dagster_runs)
    hours = period.duration.total_seconds() / 3600
    days = max(period.duration.total_seconds() / 86400, 1.0)
    confirmed = versions.filter(pl.col("verdict").is_in(["valid", "peaks_wrong"])).height
    return {
        "files_ingested": files,
        "duplicates": events.filter(pl.col("kind") == "duplicate").height,
        "runs_failed": runs.filter(pl.col("status") == "failed").height,
        "runs_processed": runs.filter(pl.col("status") == "processed").height,
        "check_failures": checks.filter(~pl.col("passed")).height,
        "etl_seconds_per_file_p50": _quantile(per_file, 0.5),
        "etl_seconds_per_file_p95": _quantile(per_file, 0.95),
        "throughput_files_per_hour": round(files / hours, 3) if hours else 0.0,
        "mean_quality": _mean(runs["quality_score"]),
        "confirmed": confirmed,
        "confirmed_per_day": round(confirmed / days, 3),
        "rejected": versions.filter(pl.col("verdict").is_in(["invalid", "failed_experiment"])).height,
        # Backlog is "now", not a period sum: processed runs nobody has confirmed or rejected yet.
        "backlog_awaiting_review": data.runs.filter(
            (pl.col("status") == "processed") & pl.col("review_status").is_in(["new", "needs_review"])).height,
    }


def _per_file_seconds(dagster_runs: pl.DataFrame) -> pl.Series:
    # A batch with a bad file still processes every file and then fails: its time counts too.
    finished = dagster_runs.filter(pl.col("status").is_in(["SUCCESS", "FAILURE"]))
    seconds = (finished["end"] - finished["start"]).dt.total_microseconds() / 1e6
    return seconds / finished["files"].clip(lower_bound=1)


def _filtered(data: OpsData, filters: StatsFilters) -> OpsData:
    active = filters.active()
    if not active:
        return data
    runs = data.runs
    for column, value in active.items():
        runs = runs.filter(pl.col(column) == value)
    keys = runs["run_key"].implode()
    return OpsData(runs=runs, events=data.events.filter(pl.col("run_key").is_in(keys)),
                   versions=data.versions.filter(pl.col("run_key").is_in(keys)),
                   dagster_runs=data.dagster_runs, checks=data.checks.filter(pl.col("run_key").is_in(keys)))


def _in(frame: pl.DataFrame, column: str, period: Period) -> pl.DataFrame:
    return frame.filter((pl.col(column) >= period.start) & (pl.col(column) < period.end))


def _counts(frame: pl.DataFrame, column: str) -> dict[str, int]:
    return {str(k): int(v) for k, v in frame.group_by(column).len().sort(column).iter_rows()}


def _quantile(values: pl.Series, q: float) -> float | None:
    return None if values.is_empty() else round(float(values.quantile(q, interpolation="linear")), 3)


def _mean(values: pl.Series) -> float | None:
    values = values.drop_nulls()
    return None if values.is_empty() else round(float(values.mean()), 4)


def _change(current: float | None, previous: float | None) -> float | None:
    """Relative change from the previous period (0.25 = +25 %); ``None`` when there is no base."""
    if current is None or previous in (None, 0):
        return None
    return round((current - previous) / previous, 4)


def _campaign(params: dict[str, Any] | None) -> str | None:
    value = (params or {}).get("campaign")
    return None if value is None else str(value)


def _frame(rows: list[Any], schema: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")
