"""Seeding a reviewed past: real ingest, real Dagster runs, backdated arrivals and reviews."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import dagster as dg
import pytest

from lab_assets.etl import run_etl
from labflow.demo.history import history_files, parse_days, seed_history
from labflow.ops.periods import parse_period
from labflow.ops.stats import compute_stats, load_catalog_data
from lab_assets.gateway import DagsterGateway

NOW = datetime.now(timezone.utc)


def test_parse_days():
    assert parse_days("30d") == parse_days("30") == 30
    for bad in ("0d", "a month", "400d"):
        with pytest.raises(ValueError):
            parse_days(bad)


def test_history_files_spread_over_the_days_and_never_in_the_future():
    files = history_files(10, seed=3, now=NOW)
    times = [t for _, t in files]
    assert all(NOW - timedelta(days=10) <= t < NOW for t in times)
    assert len({t.date() for t in times}) >= 9 and len({f.relative_path for f, _ in files}) == len(files)


def test_seeded_history_is_real_and_shows_in_the_statistics(lab_settings, lab_resources, catalog, instance):
    defs = dg.Definitions(assets=[run_etl], resources=lab_resources)
    gateway = DagsterGateway(instance, defs=defs)
    summary = seed_history(lab_settings, catalog, 3, lambda keys: gateway.process_now(keys, batch_size=20),
                           seed=5, now=NOW)
    assert summary.runs == catalog.count_runs() and summary.processed + summary.failed == summary.runs
    assert summary.confirmed > 0 and summary.confirmed + summary.rejected + summary.drafts <= summary.processed
    assert instance.get_materialized_partitions(dg.AssetKey("peaks")) == {
        r.run_key for r in catalog.find_runs(status="processed", limit=1000)}
    stats = compute_stats(load_catalog_data(catalog), parse_period("7d", now=NOW))
    assert stats["kpis"]["files_ingested"] == summary.runs
    assert stats["kpis"]["confirmed"] == summary.confirmed and stats["kpis"]["rejected"] == summary.rejected
    assert sum(1 for b in stats["by_bucket"] if b["files"]) >= 2  # spread over several days
