"""Keyset pages of the run list and the migration of an old catalog, on SQLite and on real PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, text

from labflow.store.catalog import RUN_SORTS, Catalog, RunMetadata, run_position
from labflow.ops.periods import parse_period
from labflow.ops.stats import StatsFilters, compute_stats, load_catalog_data

START = datetime(2024, 3, 1, tzinfo=timezone.utc)


@pytest.fixture
def catalog(database_url: str) -> Iterator[Catalog]:
    store = Catalog(database_url)
    yield store
    store.dispose()


def add(catalog: Catalog, key: str, rng: random.Random) -> None:
    """A run whose time, quality and instrument often tie with others' (or are unknown)."""
    at = START + timedelta(hours=rng.randrange(6))
    catalog.register_file(run_key=key, sha256=f"{key:0>64}", size_bytes=1, original_name=f"{key}.csv",
                          source="inbox", object_path="/o", sidecar_name=None, sidecar_text=None, detected_at=at)
    catalog.set_metadata(key, RunMetadata(instrument=rng.choice([None, "hplc", "uv"]),
                                          started_at=rng.choice([None, at - timedelta(minutes=5)])))
    if rng.random() < 0.7:
        catalog.set_quality(key, rng.choice([0.1, 0.5, 0.9]), [])


def walk(catalog: Catalog, sort: str, descending: bool, size: int, between=lambda page: None,
         **filters) -> list[str]:
    """Every page of a listing by key, calling ``between`` after each page."""
    seen, after = [], None
    for page in range(1000):
        runs = catalog.find_runs(limit=size, sort=sort, descending=descending, after=after, **filters)
        seen += [r.run_key for r in runs]
        if len(runs) < size:
            return seen
        after = run_position(runs[-1], sort)
        between(page)
    raise AssertionError("paging did not end")


@pytest.mark.parametrize("sort", RUN_SORTS)
@pytest.mark.parametrize("descending", [True, False])
def test_pages_by_key_visit_the_same_runs_in_the_same_order_as_one_query(catalog, sort, descending):
    rng = random.Random(1)
    for i in range(40):
        add(catalog, f"run{i:03d}", rng)
    whole = [r.run_key for r in catalog.find_runs(limit=1000, sort=sort, descending=descending)]
    assert walk(catalog, sort, descending, 7) == whole and len(whole) == 40
    hplc = [r.run_key for r in catalog.find_runs(limit=1000, sort=sort, descending=descending, instrument="hplc")]
    assert walk(catalog, sort, descending, 3, instrument="hplc") == hplc


@pytest.mark.parametrize("sort", ["time", "quality"])
def test_runs_arriving_between_pages_neither_repeat_nor_push_others_off(catalog, sort):
    rng = random.Random(2)
    for i in range(30):
        add(catalog, f"old{i:03d}", rng)
    before = {r.run_key for r in catalog.find_runs(limit=1000)}
    seen = walk(catalog, sort, True, 4, between=lambda page: [add(catalog, f"new{page}-{j}", rng) for j in range(3)])
    assert len(seen) == len(set(seen))  # no run twice
    assert before <= set(seen)  # every run there at the start was shown


def test_the_newest_first_page_reads_the_time_index_without_sorting(catalog):
    """The run time is never null, so its order has no NULLS clause and is the index's, read backwards."""
    rng = random.Random(3)
    for i in range(10):
        add(catalog, f"run{i:02d}", rng)
    statements = []

    def record(connection, cursor, statement, *rest) -> None:
        statements.append(statement)

    after = run_position(catalog.find_runs(limit=1)[0], "time")
    event.listen(catalog.engine, "before_cursor_execute", record)
    runs = catalog.find_runs(limit=5, after=after)
    event.remove(catalog.engine, "before_cursor_execute", record)
    query = statements[-1]
    assert "NULLS" not in query.upper() and len(runs) == 5
    if catalog.engine.dialect.name == "postgresql":
        with catalog.engine.connect() as connection:
            connection.execute(text("SET enable_seqscan = off"))
            plan = "\n".join(row[0] for row in connection.execute(text(
                "EXPLAIN SELECT run_key FROM runs ORDER BY coalesce(started_at, detected_at) DESC, run_key DESC "
                "LIMIT 5")))
        assert "ix_runs_run_time_key" in plan and "Sort" not in plan.replace("Sort Key", "")


def test_an_old_catalog_gains_the_campaign_column_filled_from_params(database_url):
    catalog = Catalog(database_url)
    for key, params in (("a", {"campaign": "C1", "x": 1}), ("b", {"campaign": 7}), ("c", {})):
        catalog.register_file(run_key=key, sha256=key * 64, size_bytes=1, original_name=key, source="inbox",
                              object_path="/o", sidecar_name=None, sidecar_text=None, detected_at=START)
        catalog.set_metadata(key, RunMetadata(params=params))
    with catalog.engine.begin() as connection:  # back to the schema of an older labflow
        sqlite = connection.dialect.name == "sqlite"
        for name, table in (("stats_run_days_insert", "runs"), ("stats_run_days_update", "runs"),
                            ("stats_event_days_insert", "ingest_events"),
                            ("stats_version_days_insert", "annotation_versions")):
            connection.execute(text(f"DROP TRIGGER {name}" + ("" if sqlite else f" ON {table}")))
        for table in ("stats_run_days", "stats_event_days", "stats_version_days"):
            connection.execute(text(f"DROP TABLE {table}"))
        connection.execute(text("DROP INDEX ix_runs_campaign"))
        connection.execute(text("DROP INDEX ix_runs_run_time_key"))
        connection.execute(text("ALTER TABLE runs DROP COLUMN campaign"))
        connection.execute(text("CREATE INDEX ix_runs_run_time ON runs (coalesce(started_at, detected_at))"))
    catalog.dispose()

    migrated = Catalog(database_url)
    assert migrated.count_runs(campaign="C1") == 1 and migrated.count_runs(campaign="7") == 1
    assert migrated.distinct_values("campaign") == ["7", "C1"]
    with migrated.engine.connect() as connection:
        names = _index_names(connection)
    assert {"ix_runs_campaign", "ix_runs_run_time_key"} <= names and "ix_runs_run_time" not in names
    day = parse_period("custom", since=START, until=START + timedelta(days=1))
    assert compute_stats(load_catalog_data(migrated, day))["kpis"]["files_ingested"] == 3  # rollups filled
    in_c1 = load_catalog_data(migrated, day, StatsFilters(campaign="C1"))
    assert compute_stats(in_c1)["kpis"]["files_ingested"] == 1
    Catalog(database_url).dispose()  # opening it again changes nothing
    migrated.dispose()


def _index_names(connection) -> set[str]:
    if connection.dialect.name == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'runs'"
    else:
        query = "SELECT indexname FROM pg_indexes WHERE tablename = 'runs'"
    return {row[0] for row in connection.execute(text(query))}
