"""Operations statistics on seeded tables with known counts (exact numbers)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import polars as pl
import pytest

from labflow.review.annotations import Annotation
from labflow.ingest.metadata import RunMetadata
from labflow.ops.periods import parse_period
from labflow.review.store import ReviewStore
from labflow.ops.stats import (CHECKS_SCHEMA, DAGSTER_RUNS_SCHEMA, EVENTS_SCHEMA, RUNS_SCHEMA, VERSIONS_SCHEMA,
                           OpsData, StatsFilters, compute_stats, load_catalog_data)

NOW = datetime(2026, 3, 10, 12, tzinfo=timezone.utc)


def day(n: int, hour: int = 10) -> datetime:
    """``n`` days before NOW's date, at ``hour``."""
    return datetime(2026, 3, 10, hour, tzinfo=timezone.utc) - timedelta(days=n)


@pytest.fixture
def data() -> OpsData:
    # This week (days 0..6): r1..r4; the week before (days 7..13): r5, r6.
    runs = [("r1", day(0), "processed", "hplc", "h1", "C1", 0.9, "confirmed"),
            ("r2", day(1), "processed", "hplc", "h1", "C1", 0.3, "new"),
            ("r3", day(2), "failed", "uv", "h2", None, None, "new"),
            ("r4", day(6), "processed", "uv", "h2", None, 0.7, "needs_review"),
            ("r5", day(8), "processed", "hplc", "h1", "C1", 0.5, "rejected"),
            ("r6", day(9), "failed", "hplc", "h1", "C1", None, "new")]
    events = [(k, "new", at) for k, at, *_ in runs] + [("r1", "duplicate", day(0, 11))]
    versions = [("r1", day(0, 12), "valid"), ("r5", day(8, 12), "invalid")]
    dagster_runs = [("a", day(0), day(0) + timedelta(seconds=10), "SUCCESS", 1),
                    ("b", day(1), day(1) + timedelta(seconds=40), "SUCCESS", 2),
                    ("c", day(2), day(2) + timedelta(seconds=5), "FAILURE", 1)]
    checks = [("r1", day(0), "peaks_found", True), ("r2", day(1), "score_above_minimum", False),
              ("r4", day(6), "no_clipping", False), ("r5", day(8), "no_clipping", False)]
    return OpsData(*(pl.DataFrame(rows, schema=schema, orient="row") for rows, schema in [
        (runs, RUNS_SCHEMA), (events, EVENTS_SCHEMA), (versions, VERSIONS_SCHEMA),
        (dagster_runs, DAGSTER_RUNS_SCHEMA), (checks, CHECKS_SCHEMA)]))


def test_kpis_of_a_week_and_the_week_before(data):
    stats = compute_stats(data, parse_period("7d", now=NOW))
    kpis, previous = stats["kpis"], stats["previous"]
    assert (kpis["files_ingested"], kpis["duplicates"], kpis["runs_failed"], kpis["runs_processed"]) == (4, 1, 1, 3)
    assert (kpis["check_failures"], kpis["confirmed"], kpis["rejected"]) == (2, 1, 0)
    assert kpis["etl_seconds_per_file_p50"] == pytest.approx(10.0)  # per file: 10 s, 20 s and 5 s
    assert kpis["etl_seconds_per_file_p95"] == pytest.approx(19.0)
    assert kpis["throughput_files_per_hour"] == pytest.approx(4 / 168, abs=1e-3)
    assert kpis["mean_quality"] == pytest.approx((0.9 + 0.3 + 0.7) / 3, abs=1e-4)
    assert kpis["backlog_awaiting_review"] == 2  # r2 (new) and r4 (needs review); r5 was rejected
    assert (previous["files_ingested"], previous["runs_failed"], previous["rejected"]) == (2, 1, 1)
    assert previous["backlog_awaiting_review"] is None
    assert stats["change"]["files_ingested"] == pytest.approx(1.0)  # 4 vs 2: +100 %
    assert stats["change"]["confirmed"] is None  # nothing confirmed before: no base
    assert stats["runs_by_status"] == {"failed": 1, "processed": 3}
    assert [b["runs"] for b in stats["quality_histogram"]] == [0, 1, 0, 1, 1]


def test_buckets_have_every_day_and_the_right_counts(data):
    rows = compute_stats(data, parse_period("7d", now=NOW), "day")["by_bucket"]
    assert len(rows) == 7
    by_day = {r["bucket"].day: r for r in rows}
    assert (by_day[10]["files"], by_day[10]["duplicates"], by_day[10]["confirmed"]) == (1, 1, 1)
    assert by_day[8]["failed"] == 1 and by_day[4]["check_failures"] == 1
    weekly = compute_stats(data, parse_period("30d", now=NOW), "week")["by_bucket"]
    assert sum(r["files"] for r in weekly) == 6


def test_filters_restrict_every_number(data):
    stats = compute_stats(data, parse_period("30d", now=NOW), filters=StatsFilters(instrument="uv"))
    assert stats["kpis"]["files_ingested"] == 2 and stats["kpis"]["check_failures"] == 1
    assert stats["filters"] == {"instrument": "uv"}
    campaign = compute_stats(data, parse_period("30d", now=NOW), filters=StatsFilters(campaign="C1"))
    assert campaign["kpis"]["files_ingested"] == 4 and campaign["kpis"]["rejected"] == 1


def test_catalog_data_is_loaded_with_review_status_and_campaign(catalog):
    for i, key in enumerate(["x1", "x2"]):
        catalog.register_file(run_key=key, sha256=str(i) * 64, size_bytes=1, original_name=f"{key}.csv",
                              source="inbox", object_path="/o", sidecar_name=None, sidecar_text=None,
                              detected_at=NOW - timedelta(hours=i))
    catalog.set_metadata("x1", RunMetadata(instrument="hplc", params={"campaign": "C9"}))
    catalog.set_status("x1", "processed")
    ReviewStore(catalog).confirm("x1", "ana", Annotation(), base_version=0)
    data = load_catalog_data(catalog)
    runs = {r["run_key"]: r for r in data.runs.to_dicts()}
    assert runs["x1"]["campaign"] == "C9" and runs["x1"]["review_status"] == "confirmed"
    assert runs["x2"]["review_status"] == "new"
    assert data.events.height == 2 and data.versions["verdict"].to_list() == ["valid"]
