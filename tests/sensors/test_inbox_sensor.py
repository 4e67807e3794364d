"""The inbox sensor against a real (temporary, SQLite) Dagster instance."""

from __future__ import annotations

import dagster as dg
import pytest

from lab_assets.partitions import RUNS_PARTITION
from labflow.settings import Settings
from resources import LabStorageResource
from sensors.inbox import build_inbox_sensor
from tests.lab_fixtures import drop, signal_csv

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


class Daemon:
    """Evaluates the sensor like the daemon does: keeps the cursor, applies partition requests."""

    def __init__(self, settings: Settings, instance: dg.DagsterInstance, resources: dict):
        self.settings, self.instance, self.resources = settings, instance, resources
        self.cursor: str | None = None
        self.sensor = build_inbox_sensor(settings)

    def restart(self) -> None:
        """A new daemon process: definitions rebuilt, only the stored cursor survives."""
        self.sensor = build_inbox_sensor(self.settings)

    def tick(self) -> dg.SensorResult:
        with dg.build_sensor_context(instance=self.instance, cursor=self.cursor,
                                     resources=self.resources) as context:
            result = self.sensor(context)
        for request in result.dynamic_partitions_requests or []:
            self.instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        self.cursor = result.cursor
        return result

    def partitions(self) -> list[str]:
        return self.instance.get_dynamic_partitions(RUNS_PARTITION)


@pytest.fixture
def daemon(lab_settings, instance, lab_resources) -> Daemon:
    return Daemon(lab_settings, instance, lab_resources)


def test_a_complete_file_becomes_one_partition_and_one_run(daemon, lab_settings, catalog):
    drop(lab_settings.inbox, "hplc-01/run1.csv", signal_csv(1), sidecar={"operator": "alice"})
    assert daemon.tick().run_requests == []  # first sight: not yet known to be complete
    result = daemon.tick()
    (key,) = daemon.partitions()
    (request,) = result.run_requests
    assert request.partition_key == key and key.startswith("run1-")
    assert [k.to_user_string() for k in request.asset_selection] == [
        "raw_file", "raw_series", "clean_series", "peaks", "quality_report"]
    run = catalog.get_run(key)
    assert run.status == "queued" and run.source == "inbox:hplc-01/run1.csv"
    assert run.sidecar_name == "run1.csv.meta.json" and '"alice"' in run.sidecar_text
    assert (lab_settings.objects / run.sha256[:2]).is_dir()
    assert daemon.tick().run_requests == []  # handled: never again


def test_a_slow_writer_is_not_ingested_half_written(daemon, lab_settings, catalog):
    full = signal_csv(2)
    path = drop(lab_settings.inbox, "slow.csv", full[: len(full) // 3])
    assert daemon.tick().run_requests == []
    with path.open("ab") as handle:
        handle.write(full[len(full) // 3 : 2 * len(full) // 3])
    assert daemon.tick().run_requests == []  # it grew: still pending
    with path.open("ab") as handle:
        handle.write(full[2 * len(full) // 3 :])
    assert daemon.tick().run_requests == []
    assert len(daemon.tick().run_requests) == 1
    (key,) = daemon.partitions()
    stored = catalog.get_run(key)
    assert stored.size_bytes == len(full)


def test_temporary_names_are_ignored(daemon, lab_settings):
    for name in ("upload.csv.part", "~$locked.csv", ".hidden.csv", "x.crdownload"):
        drop(lab_settings.inbox, name, signal_csv(3))
    daemon.tick()
    assert daemon.tick().run_requests == [] and daemon.partitions() == []


def test_same_bytes_twice_are_one_run_and_a_recorded_duplicate(daemon, lab_settings, catalog):
    data = signal_csv(4)
    drop(lab_settings.inbox, "a.csv", data)
    drop(lab_settings.inbox, "copy-of-a.csv", data)
    daemon.tick()
    assert len(daemon.tick().run_requests) == 1
    (key,) = daemon.partitions()
    drop(lab_settings.inbox, "later/again.csv", data)  # later, another name, same bytes
    daemon.tick()
    assert daemon.tick().run_requests == []
    assert daemon.partitions() == [key]
    kinds = [event.kind for event in catalog.ingest_events(key)]
    assert kinds.count("new") == 1 and kinds.count("duplicate") == 2


def test_a_rewritten_file_with_new_content_is_a_new_run(daemon, lab_settings):
    path = drop(lab_settings.inbox, "a.csv", signal_csv(5))
    daemon.tick(), daemon.tick()
    path.write_bytes(signal_csv(6))
    daemon.tick()
    assert len(daemon.tick().run_requests) == 1
    assert len(daemon.partitions()) == 2


def test_the_cursor_survives_a_restart(daemon, lab_settings):
    drop(lab_settings.inbox, "before.csv", signal_csv(7))
    daemon.tick(), daemon.tick()
    assert len(daemon.partitions()) == 1
    daemon.restart()
    drop(lab_settings.inbox, "while-down.csv", signal_csv(8))
    assert daemon.tick().run_requests == []  # nothing re-ingested
    result = daemon.tick()
    assert [r.partition_key for r in result.run_requests] == [k for k in daemon.partitions() if "while-down" in k]
    assert len(daemon.partitions()) == 2


def test_a_burst_of_300_files_is_one_partition_request_and_batched_runs(daemon, lab_settings):
    for i in range(300):
        drop(lab_settings.inbox, f"burst/f{i:03d}.csv", signal_csv(100 + i, n=50))
    daemon.tick()
    result = daemon.tick()
    (add_request,) = result.dynamic_partitions_requests
    assert len(add_request.partition_keys) == 300
    keys = daemon.partitions()
    assert len(keys) == 300
    assert len(result.run_requests) == 300 // lab_settings.batch_size
    covered = []
    for request in result.run_requests:
        start, end = keys.index(request.tags[RANGE_START]), keys.index(request.tags[RANGE_END])
        covered += keys[start : end + 1]
        assert request.tags["labflow/files"] == str(end - start + 1)
    assert covered == keys  # every file in exactly one batch
    assert len({r.run_key for r in result.run_requests}) == len(result.run_requests)


def test_lazy_mode_stops_after_raw_series(lab_settings, instance, lab_resources):
    lab_resources["lab"] = LabStorageResource.from_settings(lab_settings.model_copy(update={"etl_mode": "lazy"}))
    daemon = Daemon(lab_settings, instance, lab_resources)
    drop(lab_settings.inbox, "a.csv", signal_csv(9))
    daemon.tick()
    (request,) = daemon.tick().run_requests
    assert [k.to_user_string() for k in request.asset_selection] == ["raw_file", "raw_series"]
