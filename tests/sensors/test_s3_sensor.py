"""The S3 sensor against a real (temporary, SQLite) Dagster instance and a real S3-compatible HTTP endpoint.

The endpoint is moto in server mode (the only fake; boto3 is not patched).
"""

from __future__ import annotations

import json
import time

import dagster as dg
import pytest

from lab_assets.etl import run_etl
from labflow.settings import Settings
from labflow.store.outputs import OutputStore
from resources.s3 import S3InboxResource, build_s3_resource
from sensors.s3 import build_s3_sensor
from tests.lab_fixtures import drop, signal_csv
from tests.s3_fixtures import S3Endpoint
from tests.sensors.test_inbox_sensor import RANGE_END, RANGE_START, Daemon


class S3Daemon(Daemon):
    """The inbox test's daemon (keeps the cursor, applies partition requests) for the S3 sensor."""

    def __init__(self, settings: Settings, instance: dg.DagsterInstance, resources: dict, **sensor_options):
        self.sensor_options = sensor_options
        super().__init__(settings, instance, resources)
        self.sensor = build_s3_sensor(settings, **sensor_options)

    def restart(self) -> None:
        self.sensor = build_s3_sensor(self.settings, **self.sensor_options)

    def tick_logged(self, capfd: pytest.CaptureFixture) -> tuple[dg.SensorResult, str]:
        """A tick and what it logged (Dagster's test logger writes to stderr)."""
        capfd.readouterr()
        result = self.tick()
        return result, capfd.readouterr().err


def s3_resources(lab_resources: dict, s3: S3Endpoint, bucket: str) -> dict:
    """The lab's resources plus ``s3`` watching ``s3://<bucket>/incoming/`` (one attempt per request)."""
    return {**lab_resources, "s3": S3InboxResource(sources=[f"s3://{bucket}/incoming"], endpoint_url=s3.url,
                                                   max_attempts=1)}


@pytest.fixture
def daemon(lab_settings, instance, lab_resources, s3, bucket) -> S3Daemon:
    return S3Daemon(lab_settings, instance, s3_resources(lab_resources, s3, bucket))


def put(s3: S3Endpoint, bucket: str, key: str, data: bytes) -> None:
    s3.client().put_object(Bucket=bucket, Key=key, Body=data)


def test_the_resource_is_configured_from_the_environment():
    env = {"LABFLOW_S3_SOURCES": "s3://lab/incoming,s3://archive", "LABFLOW_S3_ENDPOINT_URL": "http://minio:9000"}
    resource = build_s3_resource(env)
    assert resource.sources == ["s3://lab/incoming/", "s3://archive/"]
    assert resource.endpoint_url == "http://minio:9000" and resource.get_client().meta.endpoint_url == "http://minio:9000"
    assert build_s3_resource({"LABFLOW_S3_SOURCES": " , "}).sources == []
    with pytest.raises(ValueError, match="s3://bucket/prefix"):
        build_s3_resource({"LABFLOW_S3_SOURCES": "lab/incoming"})


def test_an_uploaded_object_becomes_one_partition_and_one_run(daemon, s3, bucket, catalog):
    put(s3, bucket, "incoming/hplc-01/run1.csv.meta.json", json.dumps({"operator": "alice"}).encode())
    put(s3, bucket, "incoming/hplc-01/run1.csv", signal_csv(1))
    result = daemon.tick()  # complete once listed: no second sighting needed
    (key,) = daemon.partitions()
    (request,) = result.run_requests
    assert request.partition_key == key and key.startswith("run1-")
    assert request.tags["labflow/source"] == "s3"
    assert [k.to_user_string() for k in request.asset_selection] == [
        "raw_file", "raw_series", "clean_series", "peaks", "quality_report"]
    run = catalog.get_run(key)
    assert run.status == "queued" and run.sidecar_name == "run1.csv.meta.json"
    assert daemon.tick().run_requests == []


def test_a_run_requested_by_the_sensor_produces_peaks_with_the_sidecar_metadata(daemon, s3, bucket, catalog,
                                                                                 instance, lab_settings):
    put(s3, bucket, "incoming/hplc-01/run2.csv.meta.json", json.dumps({"operator": "bea"}).encode())
    put(s3, bucket, "incoming/hplc-01/run2.csv", signal_csv(2))
    (request,) = daemon.tick().run_requests
    assert dg.materialize([run_etl], instance=instance, resources=daemon.resources,
                          partition_key=request.partition_key, tags=request.tags).success
    run = catalog.get_run(request.partition_key)
    assert (run.status, run.instrument, run.operator) == ("processed", "hplc-01", "bea")
    assert OutputStore(lab_settings.storage).read_frame("peaks", request.partition_key).height == 2


def test_same_bytes_from_s3_and_from_the_folder_inbox_are_one_run(daemon, s3, bucket, lab_settings, instance,
                                                                  lab_resources, catalog):
    data = signal_csv(3)
    put(s3, bucket, "incoming/a.csv", data)
    put(s3, bucket, "incoming/b/copy-of-a.csv", data)
    assert len(daemon.tick().run_requests) == 1
    (key,) = daemon.partitions()
    folder = Daemon(lab_settings, instance, lab_resources)
    drop(lab_settings.inbox, "again.csv", data)
    folder.tick()
    assert folder.tick().run_requests == []
    assert daemon.partitions() == [key]
    assert [e.kind for e in catalog.ingest_events(key)] == ["new", "duplicate", "duplicate"]


def test_the_cursor_survives_a_restart(daemon, s3, bucket):
    put(s3, bucket, "incoming/before.csv", signal_csv(4))
    daemon.tick()
    daemon.restart()
    put(s3, bucket, "incoming/while-down.csv", signal_csv(5))
    (request,) = daemon.tick().run_requests
    assert request.partition_key.startswith("while-down-") and len(daemon.partitions()) == 2


def test_a_burst_of_500_objects_is_ingested_across_ticks_in_batched_runs(lab_settings, instance, lab_resources,
                                                                          s3, bucket):
    budget_s = 4.0
    daemon = S3Daemon(lab_settings, instance, s3_resources(lab_resources, s3, bucket), max_objects_per_tick=200,
                      tick_budget_s=budget_s)
    client = s3.client()
    for i in range(500):
        client.put_object(Bucket=bucket, Key=f"incoming/burst/f{i:03d}.csv", Body=signal_csv(1000 + i, n=30))
    requests, durations = [], []
    while len(daemon.partitions()) < 500:
        started = time.monotonic()
        requests += daemon.tick().run_requests
        durations.append(time.monotonic() - started)
        assert len(durations) <= 100, "the burst is not making progress"
    assert daemon.tick().run_requests == []
    keys = daemon.partitions()
    assert len(keys) == 500 and len(set(keys)) == 500 and len(durations) >= 3  # at most 200 objects per tick
    assert max(durations) < budget_s + 5, durations  # each tick keeps to its time budget (+ one object, the result)
    covered = []
    for request in requests:
        if request.partition_key:
            covered.append(request.partition_key)
            continue
        start, end = keys.index(request.tags[RANGE_START]), keys.index(request.tags[RANGE_END])
        covered += keys[start : end + 1]
    assert covered == keys  # every file in exactly one batched run
    assert all(int(r.tags["labflow/files"]) <= lab_settings.batch_size for r in requests)


def test_an_endpoint_down_during_a_tick_loses_and_doubles_nothing(daemon, s3, bucket, catalog, capfd):
    for i in range(3):
        put(s3, bucket, f"incoming/x{i}.csv", signal_csv(10 + i))
    daemon.tick()
    assert len(daemon.partitions()) == 3
    for i in range(3, 6):
        put(s3, bucket, f"incoming/x{i}.csv", signal_csv(10 + i))
    s3.stop()
    result, log = daemon.tick_logged(capfd)
    assert result.run_requests == [] and f"cannot reach endpoint {s3.url}" in log
    s3.start()
    (request,) = daemon.tick().run_requests
    assert request.tags["labflow/files"] == "3"
    keys = daemon.partitions()
    assert len(keys) == 6 and all([e.kind for e in catalog.ingest_events(k)] == ["new"] for k in keys)
    assert daemon.tick().run_requests == []


def test_the_sensor_is_on_by_default_and_named(lab_settings):
    sensor = build_s3_sensor(lab_settings)
    assert sensor.name == "s3_sensor" and sensor.default_status == dg.DefaultSensorStatus.RUNNING
