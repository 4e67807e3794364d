"""Arriving files do not wait behind background work: the run queue of ``dagster.yaml`` on a real instance.

The queued-run daemon's own choice of what to start (``_get_runs_to_dequeue``, the step of its loop that
applies ``max_concurrent_runs``, the tag limits and ``dagster/priority``) is asked directly: launching the
runs would need a code server, which the choice does not depend on.
"""

from __future__ import annotations

import uuid

import dagster as dg
import yaml
from dagster._core.remote_origin import InProcessCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

from lab_assets.streams import stream_hour_job
from labflow.settings import PROJECT_ROOT
from sensors.batching import batch_run_requests


LOCATION = InProcessCodeLocationOrigin(LoadableTargetOrigin(python_file=__file__), location_name="lab")


def queue(instance: dg.DagsterInstance, job_name: str, tags: dict[str, str]) -> str:
    """A queued run of ``job_name`` with ``tags``, as a sensor's run request leaves it."""
    origin = RemoteJobOrigin(RemoteRepositoryOrigin(LOCATION, "__repository__"), job_name)
    run = dg.DagsterRun(job_name=job_name, run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.QUEUED, tags=tags,
                        remote_job_origin=origin)
    instance.add_run(run)
    return run.run_id


def started_next(instance: dg.DagsterInstance) -> list[str]:
    """Start what the daemon would start now (marked STARTED); returns their run ids."""
    daemon = QueuedRunCoordinatorDaemon(interval_seconds=1)
    chosen = daemon._get_runs_to_dequeue(instance, instance.get_concurrency_config(), None)
    for run in chosen:
        instance.handle_run_event(run.run_id, dg.DagsterEvent(
            event_type_value=dg.DagsterEventType.RUN_START.value, job_name=run.job_name))
    return [run.run_id for run in chosen]


def test_a_file_arriving_during_a_burst_of_stream_jobs_starts_first(tmp_path):
    config = yaml.safe_load((PROJECT_ROOT / "dagster.yaml").read_text())
    overrides = {key: config[key] for key in ("concurrency", "run_queue")}
    stream_tags = {**stream_hour_job.tags, "labflow/source": "streams"}  # as the streams sensor asks
    (file_request,) = batch_run_requests(["run_001-abc"], batch_size=50, etl_mode="eager", source="inbox")
    with dg.instance_for_test(overrides=overrides, temp_dir=str(tmp_path)) as instance:
        burst = [queue(instance, "stream_hour_job", stream_tags) for _ in range(10)]
        first = started_next(instance)
        assert len(first) == 1 and first[0] in burst  # background work takes one of the two slots only
        arriving = queue(instance, "__ASSET_JOB", dict(file_request.tags))
        assert started_next(instance) == [arriving]  # the free slot goes to the file, not the next stream hour
        assert started_next(instance) == []  # both slots busy: the other nine stream hours wait
        queue(instance, "stream_hour_job", stream_tags)
        second_file = queue(instance, "__ASSET_JOB", dict(file_request.tags))
        instance.report_run_canceled(instance.get_run_by_id(arriving))  # a slot frees up
        assert started_next(instance) == [second_file]  # queued files go before every queued stream hour
