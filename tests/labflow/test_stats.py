"""Operations statistics counted in SQL on seeded catalogs (SQLite and PostgreSQL): exact numbers, and the
same numbers as a brute-force count over every row."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import polars as pl
import pytest

from labflow.review.annotations import Annotation
from labflow.store.catalog import Catalog
from labflow.ingest.metadata import RunMetadata
from labflow.ops.periods import bucket_start, parse_period
from labflow.review.store import ReviewStore
from labflow.ops.stats import (CHECKS_SCHEMA, DAGSTER_RUNS_SCHEMA, QUALITY_BINS, StatsFilters, compute_stats,
                           load_catalog_data, review_backlog)

NOW = datetime(2026, 3, 10, 12, tzinfo=timezone.utc)


def day(n: int, hour: int = 10) -> datetime:
    """``n`` days before NOW's date, at ``hour``."""
    return datetime(2026, 3, 10, hour, tzinfo=timezone.utc) - timedelta(days=n)


def add_run(catalog: Catalog, key: str, at: datetime, status: str, instrument: str, recipe_hash: str,
            campaign: str | None, quality: float | None) -> None:
    catalog.register_file(run_key=key, sha256=key.ljust(64, "0"), size_bytes=1, original_name=f"{key}.csv",
                          source="inbox", object_path="/o", sidecar_name=None, sidecar_text=None, detected_at=at)
    catalog.set_metadata(key, RunMetadata(instrument=instrument, params={"campaign": campaign} if campaign else {}))
    catalog.set_recipe(key, "recipe", recipe_hash)
    catalog.set_status(key, status)
    if quality is not None:
        catalog.set_quality(key, quality, [])


@pytest.fixture
def catalog(database_url) -> Catalog:
    # This week (days 0..6): r1..r4; the week before (days 7..13): r5, r6.
    catalog = Catalog(database_url)
    for key, at, *rest in [("r1", day(0), "processed", "hplc", "h1", "C1", 0.9),
                           ("r2", day(1), "processed", "hplc", "h1", "C1", 0.3),
                           ("r3", day(2), "failed", "uv", "h2", None, None),
                           ("r4", day(6), "processed", "uv", "h2", None, 0.7),
                           ("r5", day(8), "processed", "hplc", "h1", "C1", 0.5),
                           ("r6", day(9), "failed", "hplc", "h1", "C1", None)]:
        add_run(catalog, key, at, *rest)
    catalog.record_duplicate(run_key="r1", source="inbox", detected_at=day(0, 11))
    reviews = ReviewStore(catalog)
    reviews.confirm("r1", "ana", Annotation(verdict="valid"), base_version=0, at=day(0, 12))
    reviews.confirm("r5", "ana", Annotation(verdict="invalid"), base_version=0, at=day(8, 12))
    with catalog.begin() as session:
        catalog.mark_needs_review(session, "r4")
    yield catalog
    catalog.dispose()


DAGSTER_RUNS = pl.DataFrame([("a", day(0), day(0) + timedelta(seconds=10), "SUCCESS", 1),
                             ("b", day(1), day(1) + timedelta(seconds=40), "SUCCESS", 2),
                             ("c", day(2), day(2) + timedelta(seconds=5), "FAILURE", 1)],
                            schema=DAGSTER_RUNS_SCHEMA, orient="row")
CHECKS = pl.DataFrame([("r1", day(0), "peaks_found", True), ("r2", day(1), "score_above_minimum", False),
                       ("r4", day(6), "no_clipping", False), ("r5", day(8), "no_clipping", False)],
                      schema=CHECKS_SCHEMA, orient="row")


def stats(catalog: Catalog, period: str, bucket: str = "day", filters: StatsFilters = StatsFilters(),
          **custom: datetime) -> dict:
    chosen = parse_period(period, now=NOW, **custom)
    data = load_catalog_data(catalog, chosen, filters, dagster_runs=DAGSTER_RUNS, checks=CHECKS)
    return compute_stats(data, bucket)  # type: ignore[arg-type]


def test_kpis_of_a_week_and_the_week_before(catalog):
    result = stats(catalog, "7d")
    kpis, previous = result["kpis"], result["previous"]
    assert (kpis["files_ingested"], kpis["duplicates"], kpis["runs_failed"], kpis["runs_processed"]) == (4, 1, 1, 3)
    assert (kpis["check_failures"], kpis["confirmed"], kpis["rejected"]) == (2, 1, 0)
    assert kpis["etl_seconds_per_file_p50"] == pytest.approx(10.0)  # per file: 10 s, 20 s and 5 s
    assert kpis["etl_seconds_per_file_p95"] == pytest.approx(19.0)
    assert kpis["throughput_files_per_hour"] == pytest.approx(4 / 168, abs=1e-3)
    assert kpis["mean_quality"] == pytest.approx((0.9 + 0.3 + 0.7) / 3, abs=1e-4)
    assert kpis["backlog_awaiting_review"] == 2  # r2 (new) and r4 (needs review); r5 was rejected
    assert (previous["files_ingested"], previous["runs_failed"], previous["rejected"]) == (2, 1, 1)
    assert previous["backlog_awaiting_review"] is None
    assert result["change"]["files_ingested"] == pytest.approx(1.0)  # 4 vs 2: +100 %
    assert result["change"]["confirmed"] is None  # nothing confirmed before: no base
    assert result["runs_by_status"] == {"failed": 1, "processed": 3}
    assert [b["runs"] for b in result["quality_histogram"]] == [0, 1, 0, 1, 1]


def test_buckets_have_every_day_and_the_right_counts(catalog):
    rows = stats(catalog, "7d", "day")["by_bucket"]
    assert len(rows) == 7
    by_day = {r["bucket"].day: r for r in rows}
    assert (by_day[10]["files"], by_day[10]["duplicates"], by_day[10]["confirmed"]) == (1, 1, 1)
    assert by_day[8]["failed"] == 1 and by_day[4]["check_failures"] == 1
    weekly = stats(catalog, "30d", "week")["by_bucket"]
    assert sum(r["files"] for r in weekly) == 6


def test_filters_restrict_every_number(catalog):
    result = stats(catalog, "30d", filters=StatsFilters(instrument="uv"))
    assert result["kpis"]["files_ingested"] == 2 and result["kpis"]["check_failures"] == 1
    assert result["filters"] == {"instrument": "uv"}
    campaign = stats(catalog, "30d", filters=StatsFilters(campaign="C1"))
    assert campaign["kpis"]["files_ingested"] == 4 and campaign["kpis"]["rejected"] == 1
    assert stats(catalog, "30d", filters=StatsFilters(recipe_hash="h2"))["kpis"]["backlog_awaiting_review"] == 1


def test_a_custom_period_splits_days_at_its_own_start(catalog):
    # 35 hours from day 1 at noon: r2 (day 1, 10:00) and r3 (day 2, 10:00) fall in the 35 hours before,
    # r1 and its duplicate and version in the period.
    result = stats(catalog, "custom", since=day(1, 12), until=day(0, 23))
    assert result["kpis"]["files_ingested"] == 1 and result["previous"]["files_ingested"] == 2
    assert result["kpis"]["duplicates"] == 1 and result["kpis"]["confirmed"] == 1


# -- brute force ---------------------------------------------------------------------------------
def seed_random(catalog: Catalog, runs: int, seed: int) -> None:
    rng = random.Random(seed)
    reviews = ReviewStore(catalog)
    for i in range(runs):
        key = f"x{i:04d}"
        at = NOW - timedelta(seconds=rng.uniform(0, 70 * 86400))
        quality = rng.choice([None, 0.0, 0.2, 0.5, 0.8, 1.0, rng.random()])
        add_run(catalog, key, at, rng.choice(["processed", "failed", "queued"]), rng.choice(["hplc", "uv"]),
                rng.choice(["h1", "h2"]), rng.choice([None, "C1", "C2"]), quality)
        if rng.random() < 0.2:
            catalog.record_duplicate(run_key=key, source="inbox", detected_at=at + timedelta(hours=rng.uniform(0, 48)))
        if rng.random() < 0.4:
            verdict = rng.choice(["valid", "peaks_wrong", "invalid", "failed_experiment"])
            reviews.confirm(key, "ana", Annotation(verdict=verdict), base_version=0,
                            at=at + timedelta(hours=rng.uniform(0, 72)))
    for i in rng.sample(range(runs), runs // 5):  # runs re-read later: their events and versions move with them
        key = f"x{i:04d}"
        catalog.set_metadata(key, RunMetadata(instrument=rng.choice(["hplc", "uv", None]),
                                              params={"campaign": rng.choice(["C1", "C2"])}))
        catalog.set_recipe(key, "recipe", rng.choice(["h1", "h2"]))
        catalog.set_status(key, rng.choice(["processed", "failed"]))


def brute_force(catalog: Catalog, period: str, bucket: str, filters: StatsFilters, **custom: datetime) -> dict:
    """The same statistics from every row, counted one by one in Python."""
    chosen = parse_period(period, now=NOW, **custom)
    runs = {r.run_key: r for r in catalog.find_runs(limit=10**6)}
    keep = {k for k, r in runs.items() if all((r.instrument, r.recipe_hash, r.params.get("campaign"))[i] == v
                                              for i, v in enumerate(vars(filters).values()) if v)}
    events = [e for e in catalog.ingest_events() if e.run_key in keep]
    versions = [v for v in ReviewStore(catalog).versions_after(0, limit=10**6) if v.run_key in keep]

    def kpis(period) -> dict:
        inside = [runs[k] for k in keep if period.contains(runs[k].detected_at)]
        scores = [r.quality_score for r in inside if r.quality_score is not None]
        return {"files_ingested": sum(e.kind == "new" and period.contains(e.detected_at) for e in events),
                "duplicates": sum(e.kind == "duplicate" and period.contains(e.detected_at) for e in events),
                "runs_failed": sum(r.status == "failed" for r in inside),
                "runs_processed": sum(r.status == "processed" for r in inside),
                "mean_quality": round(sum(scores) / len(scores), 4) if scores else None,
                "confirmed": sum(v.annotation.accepted and period.contains(v.created_at) for v in versions),
                "rejected": sum(not v.annotation.accepted and period.contains(v.created_at) for v in versions)}

    inside = [runs[k] for k in keep if chosen.contains(runs[k].detected_at)]
    histogram = [sum(r.quality_score is not None and (low <= r.quality_score < high or
                                                      (high == 1.0 and r.quality_score == 1.0)) for r in inside)
                 for low, high in zip(QUALITY_BINS[:-1], QUALITY_BINS[1:])]
    files_by_bucket: dict = {}
    for e in events:
        if e.kind == "new" and chosen.contains(e.detected_at):
            start = bucket_start(e.detected_at, bucket)  # type: ignore[arg-type]
            files_by_bucket[start] = files_by_bucket.get(start, 0) + 1
    backlog = sum(runs[k].status == "processed" and runs[k].review_status in ("new", "needs_review") for k in keep)
    return {"kpis": kpis(chosen), "previous": kpis(chosen.previous()), "histogram": histogram,
            "files_by_bucket": files_by_bucket, "backlog": backlog}


@pytest.mark.parametrize(("period", "bucket", "filters", "custom"), [
    ("today", "day", StatsFilters(), {}),
    ("7d", "day", StatsFilters(instrument="uv"), {}),
    ("30d", "week", StatsFilters(campaign="C2"), {}),
    ("30d", "month", StatsFilters(instrument="hplc", recipe_hash="h1"), {}),
    ("custom", "day", StatsFilters(), {"since": NOW - timedelta(days=20, hours=5), "until": NOW - timedelta(hours=7)}),
])
def test_sql_counts_equal_a_brute_force_count(database_url, period, bucket, filters, custom):
    catalog = Catalog(database_url)
    seed_random(catalog, 100, seed=7)
    result = compute_stats(load_catalog_data(catalog, parse_period(period, now=NOW, **custom), filters), bucket)
    expected = brute_force(catalog, period, bucket, filters, **custom)
    for which in ("kpis", "previous"):
        assert {k: result[which][k] for k in expected[which]} == expected[which]
    assert [b["runs"] for b in result["quality_histogram"]] == expected["histogram"]
    assert {b["bucket"]: b["files"] for b in result["by_bucket"] if b["files"]} == expected["files_by_bucket"]
    assert result["kpis"]["backlog_awaiting_review"] == review_backlog(catalog, filters) == expected["backlog"]
    catalog.dispose()
