"""The dead-run sweep on a real Dagster instance, with real (killed) worker processes."""

from __future__ import annotations

import subprocess
import time
import uuid

import dagster as dg
from dagster._core.events import EngineEventData

from lab_assets.partitions import RUNS_PARTITION
from labflow.processes import is_running_since
from sensors.dead_runs import ATTEMPT_TAG, MAX_ATTEMPTS, build_dead_run_sensor, contiguous
from tests.lab_fixtures import process_run, register_run, signal_csv

STEPS = frozenset(dg.AssetKey(s) for s in ("raw_file", "raw_series", "clean_series", "peaks", "quality_report"))


def started_run(instance: dg.DagsterInstance, worker: subprocess.Popen, keys: list[str], **tags: str) -> dg.DagsterRun:
    """A STARTED ETL run over ``keys`` whose worker is ``worker``, recorded as Dagster records it."""
    range_tags = {"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]}
    run = instance.add_run(dg.DagsterRun(job_name="__ASSET_JOB", run_id=str(uuid.uuid4()),
                                         status=dg.DagsterRunStatus.STARTED, asset_selection=STEPS,
                                         tags={"labflow/source": "inbox", **range_tags, **tags}))
    instance.report_engine_event(f"Started process for run (pid: {worker.pid}).", run,
                                 EngineEventData.in_process(worker.pid))
    return run


def sweep(settings, instance, resources, cursor=None) -> dg.SensorResult:
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
        return build_dead_run_sensor(settings)(context)


def test_a_live_process_is_running_and_a_killed_or_later_one_is_not():
    worker = subprocess.Popen(["sleep", "30"])
    try:
        assert is_running_since(worker.pid, time.time())
        assert not is_running_since(worker.pid, time.time() - 3600)  # same pid, started after that: another process
    finally:
        worker.kill()
        worker.wait()
    assert not is_running_since(worker.pid, time.time())


def test_contiguous_groups_follow_the_partition_order():
    assert contiguous(["e", "a", "b", "d"], "abcde") == [["a", "b"], ["d", "e"]]


def test_a_run_whose_worker_died_is_failed_and_only_its_unprocessed_files_are_requested_again(
        lab_settings, lab_resources, catalog, instance):
    done = process_run(lab_settings, catalog, instance, lab_resources, "a.csv", signal_csv(1))
    todo = [register_run(lab_settings, catalog, instance, f"{n}.csv", signal_csv(i)) for i, n in enumerate("bc", 2)]
    bad = register_run(lab_settings, catalog, instance, "d.csv", b"prose\n")
    catalog.set_status(bad, "failed", error="quarantined")
    alive = subprocess.Popen(["sleep", "30"])
    dead = subprocess.Popen(["true"])
    dead.wait()
    try:
        keys = instance.get_dynamic_partitions(RUNS_PARTITION)
        running = started_run(instance, alive, keys)
        killed = started_run(instance, dead, keys)
        result = sweep(lab_settings, instance, lab_resources)
        assert instance.get_run_by_id(running.run_id).status == dg.DagsterRunStatus.STARTED
        assert instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.FAILURE
        (request,) = result.run_requests
        assert (request.tags["dagster/asset_partition_range_start"],
                request.tags["dagster/asset_partition_range_end"]) == (todo[0], todo[1])
        assert request.tags[ATTEMPT_TAG] == "2" and done not in request.tags.values()
        assert sweep(lab_settings, instance, lab_resources, result.cursor).run_requests == []  # handled once
    finally:
        alive.kill()
        alive.wait()


def test_files_are_not_requested_again_after_the_last_attempt(lab_settings, lab_resources, catalog, instance):
    keys = [register_run(lab_settings, catalog, instance, "a.csv", signal_csv(1))]
    dead = subprocess.Popen(["true"])
    dead.wait()
    started_run(instance, dead, keys, **{ATTEMPT_TAG: str(MAX_ATTEMPTS)})
    assert sweep(lab_settings, instance, lab_resources).run_requests == []
