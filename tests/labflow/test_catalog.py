"""The catalog on SQLite and on a real PostgreSQL database: the same tests on both."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from labflow.store.catalog import RUN_STATUSES, Catalog, RunMetadata, RunNotFound
from labflow.settings import Settings

UTC = timezone.utc
SHA = "ab" * 32


def at(day: int, month: int = 3, hour: int = 12) -> datetime:
    return datetime(2024, month, day, hour, tzinfo=UTC)


@pytest.fixture
def catalog(database_url: str) -> Iterator[Catalog]:
    store = Catalog(database_url)
    yield store
    store.dispose()


def register(catalog: Catalog, run_key: str, detected_at: datetime = at(1), **overrides) -> None:
    values = dict(sha256=SHA, size_bytes=123, original_name=f"{run_key}.csv",
                  source=f"inbox:hplc-01/{run_key}.csv", object_path=f"/objects/{run_key}.csv",
                  sidecar_name=None, sidecar_text=None)
    catalog.register_file(run_key=run_key, detected_at=detected_at, **{**values, **overrides})


@pytest.fixture
def four_runs(catalog: Catalog) -> Catalog:
    """r1..r4 with metadata; by run time (started_at, else detected_at) the order is r4, r2, r1, r3."""
    runs = {
        "r1": (at(1), RunMetadata("hplc", "ana", "steel", "E1", at(1, hour=9)), "processed"),
        "r2": (at(5), RunMetadata("hplc", "ben", "glass", "E2", None), "queued"),
        "r3": (at(10), RunMetadata("uv", "ana", "steel", "E1", at(10, month=2)), "processed"),
        "r4": (at(20), RunMetadata("uv", "ben", None, None, at(20)), "failed"),
    }
    for key, (detected_at, metadata, status) in runs.items():
        register(catalog, key, detected_at, sha256=key * 32)
        catalog.set_metadata(key, metadata)
        catalog.set_status(key, status, error="boom" if status == "failed" else None)
    return catalog


def keys(runs) -> list[str]:
    return [run.run_key for run in runs]


def test_register_and_get(catalog):
    register(catalog, "run-1", at(1), sidecar_name="run-1.json", sidecar_text='{"operator": "ana"}')
    run = catalog.get_run("run-1")
    assert run is not None
    assert (run.run_key, run.sha256, run.size_bytes, run.original_name) == ("run-1", SHA, 123, "run-1.csv")
    assert (run.source, run.object_path) == ("inbox:hplc-01/run-1.csv", "/objects/run-1.csv")
    assert (run.sidecar_name, run.sidecar_text) == ("run-1.json", '{"operator": "ana"}')
    assert (run.status, run.error, run.detected_at) == ("queued", None, at(1))
    assert (run.params, run.quality_score, run.quality_flags) == ({}, None, [])
    assert catalog.get_run("missing") is None


def test_register_again_keeps_the_first_detection_and_one_event(catalog):
    register(catalog, "run-1", at(1))
    register(catalog, "run-1", at(2), source="inbox:elsewhere/run-1.csv")
    assert catalog.get_run("run-1").detected_at == at(1)
    assert catalog.get_run("run-1").source == "inbox:hplc-01/run-1.csv"
    assert [(e.kind, e.detected_at) for e in catalog.ingest_events("run-1")] == [("new", at(1))]


def test_duplicates_are_events_and_leave_the_run_alone(catalog):
    register(catalog, "run-1", at(1))
    before = catalog.get_run("run-1")
    catalog.record_duplicate(run_key="run-1", source="inbox:copy.csv", detected_at=at(3))
    catalog.record_duplicate(run_key="run-1", source="s3:bucket/copy.csv", detected_at=at(2))
    assert catalog.get_run("run-1") == before
    events = catalog.ingest_events("run-1")
    assert [(e.kind, e.source, e.detected_at) for e in events] == [
        ("new", "inbox:hplc-01/run-1.csv", at(1)),
        ("duplicate", "s3:bucket/copy.csv", at(2)),
        ("duplicate", "inbox:copy.csv", at(3)),
    ]


def test_ingest_events_of_all_runs_oldest_first(catalog):
    register(catalog, "b", at(2))
    register(catalog, "a", at(1))
    catalog.record_duplicate(run_key="a", source="inbox:again.csv", detected_at=at(3))
    events = [(e.run_key, e.kind) for e in catalog.ingest_events()]
    assert events == [("a", "new"), ("b", "new"), ("a", "duplicate")]


def test_find_run_by_sha256(catalog):
    register(catalog, "run-1", sha256="cd" * 32)
    assert catalog.find_run_by_sha256("cd" * 32).run_key == "run-1"
    assert catalog.find_run_by_sha256("ef" * 32) is None


def test_set_metadata_replaces_the_captured_metadata(catalog):
    register(catalog, "run-1")
    catalog.set_metadata("run-1", RunMetadata("hplc", "ana", "steel", "E1", at(1, hour=9), {"flow": 1.5}))
    catalog.set_metadata("run-1", RunMetadata(instrument="uv", params={"lamp": "D2", "gain": [1, 2]}))
    run = catalog.get_run("run-1")
    assert (run.instrument, run.operator, run.material, run.experiment_id) == ("uv", None, None, None)
    assert (run.started_at, run.params) == (None, {"lamp": "D2", "gain": [1, 2]})


@pytest.mark.parametrize(("filters", "expected"), [
    ({}, ["r4", "r2", "r1", "r3"]),
    ({"instrument": "hplc"}, ["r2", "r1"]),
    ({"operator": "ana"}, ["r1", "r3"]),
    ({"material": "steel"}, ["r1", "r3"]),
    ({"experiment_id": "E1"}, ["r1", "r3"]),
    ({"status": "failed"}, ["r4"]),
    ({"instrument": "uv", "operator": "ben"}, ["r4"]),
    ({"instrument": "HPLC"}, []),
    ({"since": at(1, hour=0), "until": at(10)}, ["r2", "r1"]),
    ({"since": at(20)}, ["r4"]),
    ({"until": at(1, hour=9)}, ["r3"]),
    ({"since": at(10, month=2), "until": at(10, month=2, hour=13)}, ["r3"]),
])
def test_find_and_count_runs_with_filters(four_runs, filters, expected):
    assert keys(four_runs.find_runs(**filters)) == expected
    assert four_runs.count_runs(**filters) == len(expected)


def test_date_filters_use_started_at_else_detected_at(four_runs):
    """r3 arrived on 10 March but started on 10 February; r2 has no start time and arrived on 5 March."""
    assert keys(four_runs.find_runs(since=at(4), until=at(11))) == ["r2"]
    assert keys(four_runs.find_runs(until=at(1, month=3, hour=0))) == ["r3"]


def test_date_filters_accept_other_timezones(four_runs):
    paris = timezone(timedelta(hours=1))
    assert keys(four_runs.find_runs(since=datetime(2024, 3, 20, 13, tzinfo=paris))) == ["r4"]
    assert keys(four_runs.find_runs(since=datetime(2024, 3, 20, 13, 1, tzinfo=paris))) == []


def test_limit_and_offset_page_newest_first(four_runs):
    assert keys(four_runs.find_runs(limit=2)) == ["r4", "r2"]
    assert keys(four_runs.find_runs(limit=2, offset=2)) == ["r1", "r3"]
    assert keys(four_runs.find_runs(limit=2, offset=4)) == []
    assert four_runs.count_runs() == 4


def test_unknown_status_is_refused(catalog):
    register(catalog, "run-1")
    with pytest.raises(ValueError, match="unknown run status 'done'"):
        catalog.set_status("run-1", "done")
    with pytest.raises(ValueError, match="queued, processing, parsed, processed, failed"):
        catalog.find_runs(status="done")
    assert catalog.get_run("run-1").status == "queued"


def test_every_status_can_be_set(catalog):
    register(catalog, "run-1")
    for status in RUN_STATUSES:
        catalog.set_status("run-1", status)
        assert catalog.get_run("run-1").status == status


def test_failure_error_is_cleared_once_the_run_recovers(catalog):
    register(catalog, "run-1")
    catalog.set_status("run-1", "failed", error="line 3, column 2: 'abc' is not a number")
    assert catalog.get_run("run-1").error == "line 3, column 2: 'abc' is not a number"
    catalog.set_status("run-1", "processed", error="ignored unless failed")
    run = catalog.get_run("run-1")
    assert (run.status, run.error) == ("processed", None)


def test_recipe_and_quality(catalog):
    register(catalog, "run-1")
    catalog.set_recipe("run-1", "hplc-default", "f00d" * 4)
    catalog.set_quality("run-1", 0.75, ["noisy_baseline", "clipped"])
    run = catalog.get_run("run-1")
    assert (run.recipe_id, run.recipe_hash) == ("hplc-default", "f00d" * 4)
    assert (run.quality_score, run.quality_flags) == (0.75, ["noisy_baseline", "clipped"])


def test_only_flags_that_call_for_a_person_send_a_run_to_review(catalog):
    register(catalog, "run-1")
    register(catalog, "run-2")
    catalog.set_quality("run-1", 0.98, ["unused_channels"], needs_review=False)
    catalog.set_quality("run-2", 0.7, ["clipping"])
    assert catalog.get_run("run-1").review_status == "new"
    assert catalog.get_run("run-1").quality_flags == ["unused_channels"]
    assert catalog.get_run("run-2").review_status == "needs_review"


def test_updating_an_unknown_run_says_so(catalog):
    with pytest.raises(RunNotFound, match="'ghost' is not in the catalog"):
        catalog.set_status("ghost", "processed")
    with pytest.raises(RunNotFound):
        catalog.set_metadata("ghost", RunMetadata(instrument="uv"))
    with pytest.raises(RunNotFound):
        catalog.record_duplicate(run_key="ghost", source="inbox:ghost.csv", detected_at=at(1))
    assert catalog.ingest_events() == []


def test_datetimes_come_back_timezone_aware_utc(catalog):
    tokyo = timezone(timedelta(hours=9))
    register(catalog, "run-1", datetime(2024, 3, 1, 21, 30, tzinfo=tokyo))
    catalog.set_metadata("run-1", RunMetadata(started_at=datetime(2024, 3, 1, 8, 15)))  # naive: taken as UTC
    before_update = datetime.now(UTC)
    catalog.set_status("run-1", "processing")
    run = catalog.get_run("run-1")
    for value in (run.detected_at, run.started_at, run.updated_at, catalog.ingest_events()[0].detected_at):
        assert value.utcoffset() == timedelta(0)
    assert run.detected_at == datetime(2024, 3, 1, 12, 30, tzinfo=UTC)
    assert run.started_at == datetime(2024, 3, 1, 8, 15, tzinfo=UTC)
    assert run.updated_at >= before_update - timedelta(seconds=1)


def test_same_file_registered_by_two_processes_at_once(database_url):
    """Sensor and run register the same key at the same moment: both succeed, one run, one 'new' event."""
    writers = [Catalog(database_url), Catalog(database_url)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(writers))

    def write(store: Catalog, key: str) -> None:
        try:
            barrier.wait(timeout=10)
            register(store, key, at(1))
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    try:
        for round_ in range(5):
            threads = [threading.Thread(target=write, args=(store, f"run-{round_}")) for store in writers]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)
        assert errors == []
        reader = writers[0]
        assert reader.count_runs() == 5
        assert [(e.run_key, e.kind) for e in reader.ingest_events()] == [(f"run-{i}", "new") for i in range(5)]
    finally:
        for store in writers:
            store.dispose()


def test_sqlite_catalog_uses_wal_and_a_busy_timeout(tmp_path):
    store = Catalog(f"sqlite:///{tmp_path / 'deeper' / 'catalog.db'}")
    try:
        with store.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    finally:
        store.dispose()


def test_from_settings_uses_the_data_directory(tmp_path):
    settings = Settings.from_env({"LABFLOW_HOME": str(tmp_path / "home")})
    store = Catalog.from_settings(settings)
    try:
        register(store, "run-1")
        assert (tmp_path / "home" / "catalog.db").is_file()
    finally:
        store.dispose()


@pytest.mark.postgres
def test_plain_postgresql_url_uses_psycopg2(postgres_url):
    store = Catalog(postgres_url.replace("postgresql+psycopg2://", "postgresql://"))
    try:
        assert store.engine.dialect.driver == "psycopg2"
        assert store.count_runs() == 0
    finally:
        store.dispose()
