"""Runs whose worker died: failed, and their unprocessed files requested again.

Dagster's run monitoring (``run_monitoring`` in ``dagster.yaml``) fails runs that never start, but
the default run launcher has no worker health check: a run whose process was killed (``kill -9`` of
``dagster dev``, the OOM killer, a power cut) stays STARTED for ever and holds a run slot, so the
queue never moves again. This sensor does the check for runs launched on this machine: a STARTED
run whose worker (the pid Dagster recorded when it started it) is gone is marked failed.

Then every ETL run that ended failed or canceled has the partitions that have neither their last
step materialized nor a failure in the catalog (a quarantined file) requested again, as contiguous
ranges, at most ``MAX_ATTEMPTS`` times: no file is lost and none is processed twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone

import dagster as dg
from dagster._core.launcher.default_run_launcher import DefaultRunLauncher

from lab_assets.etl import run_etl
from lab_assets.partitions import RUNS_PARTITION
from labflow.store.catalog import Catalog
from labflow.processing.pipeline import STEPS
from labflow.processes import is_running_since
from labflow.settings import Settings
from resources import CatalogResource, LabStorageResource
from sensors.batching import batch_run_requests

SWEEP_INTERVAL_S = 15
OVERLAP = timedelta(seconds=5)  # runs that ended this close together may be listed out of order
MAX_ATTEMPTS = 3
ATTEMPT_TAG = "labflow/attempt"
WORKER_GONE = "its worker process (pid {pid}) is gone; the run was interrupted (process killed or machine restarted)"


def worker_pid(instance: dg.DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """``(pid, when)`` of the newest worker process Dagster started for a run, if it recorded one."""
    for entry in reversed(instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)):
        data = entry.dagster_event.engine_event_data if entry.dagster_event else None
        pid = data.metadata.get("pid") if data else None
        if pid is not None and entry.message.startswith("Started process for run"):
            return int(pid.value), entry.timestamp
    return None


def fail_dead_runs(instance: dg.DagsterInstance, log) -> list[str]:
    """Mark STARTED runs whose worker process is gone as failed; return their ids."""
    failed = []
    for record in instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
        run = record.dagster_run
        worker = worker_pid(instance, run.run_id)
        if worker is None or is_running_since(*worker):
            continue
        message = WORKER_GONE.format(pid=worker[0])
        log.warning(f"run {run.run_id}: {message}; marking it failed")
        instance.report_run_failed(run, message)
        failed.append(run.run_id)
    return failed


def run_partitions(instance: dg.DagsterInstance, run: dg.DagsterRun) -> list[str]:
    """The run partition keys a run covered (one key, or a range in partition order)."""
    tags = run.tags
    if "dagster/partition" in tags:
        return [tags["dagster/partition"]]
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    if start is None or end is None:
        return []
    keys = instance.get_dynamic_partitions(RUNS_PARTITION)
    try:
        return keys[keys.index(start): keys.index(end) + 1]
    except ValueError:
        return []


def unfinished(instance: dg.DagsterInstance, catalog: Catalog, run: dg.DagsterRun, keys: Sequence[str]) -> list[str]:
    """Keys whose last selected step has no materialization and that the catalog does not call failed."""
    selected = {key.to_user_string() for key in run.asset_selection or ()}
    last = next((step for step in reversed(STEPS) if step in selected), None)
    if last is None or not keys:
        return []
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(last), asset_partitions=list(keys)), limit=len(keys)).records
    done = {record.partition_key for record in records}
    return [key for key in keys if key not in done and _status(catalog, key) != "failed"]


def contiguous(keys: Sequence[str], order: Sequence[str]) -> list[list[str]]:
    """``keys`` split into runs of neighbours in ``order`` (so that each is one partition range)."""
    position = {key: i for i, key in enumerate(order)}
    groups: list[list[str]] = []
    for key in sorted(keys, key=position.__getitem__):
        if groups and position[groups[-1][-1]] == position[key] - 1:
            groups[-1].append(key)
        else:
            groups.append([key])
    return groups


def retry_requests(instance: dg.DagsterInstance, catalog: Catalog, runs: Iterable[dg.DagsterRun],
                   etl_mode: str, log) -> list[dg.RunRequest]:
    """Run requests for the unfinished files of ETL runs that ended without finishing them."""
    requests: list[dg.RunRequest] = []
    order: list[str] | None = None
    for run in runs:
        if "labflow/source" not in run.tags:
            continue  # launched by hand: whoever launched it decides
        attempt = int(run.tags.get(ATTEMPT_TAG, "1"))
        keys = unfinished(instance, catalog, run, run_partitions(instance, run))
        if not keys:
            continue
        if attempt >= MAX_ATTEMPTS:
            log.error(f"run {run.run_id} ended with {len(keys)} file(s) unprocessed after {attempt} attempts; "
                      f"not retried: {', '.join(keys[:10])}")
            continue
        order = order if order is not None else instance.get_dynamic_partitions(RUNS_PARTITION)
        log.info(f"run {run.run_id} ({run.status.value}) left {len(keys)} file(s) unprocessed; requesting them again")
        for group in contiguous(keys, order):
            requests += batch_run_requests(group, batch_size=len(group), etl_mode=etl_mode,
                                           source=run.tags["labflow/source"],
                                           run_key_prefix=f"etl-retry-{run.run_id}",
                                           tags={ATTEMPT_TAG: str(attempt + 1), "labflow/retry_of": run.run_id})
    return requests


def _status(catalog: Catalog, run_key: str) -> str | None:
    record = catalog.get_run(run_key)
    return record.status if record else None


def build_dead_run_sensor(settings: Settings) -> dg.SensorDefinition:
    """The sweep, every ``SWEEP_INTERVAL_S`` seconds, on by default (only with the default run launcher)."""

    @dg.sensor(
        name="dead_run_sweep",
        target=run_etl,
        minimum_interval_seconds=SWEEP_INTERVAL_S,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Fails STARTED runs whose worker process is gone and requests the files of failed or "
        "canceled ETL runs that were neither processed nor quarantined again (up to 3 attempts).",
    )
    def dead_run_sweep(context: dg.SensorEvaluationContext, lab: LabStorageResource, catalog: CatalogResource):
        instance = context.instance
        if not isinstance(instance.run_launcher, DefaultRunLauncher):
            return dg.SkipReason("runs are launched elsewhere: Dagster's run monitoring checks their workers")
        fail_dead_runs(instance, context.log)
        state = json.loads(context.cursor) if context.cursor else {}
        since, seen = state.get("updated_after", 0.0), state.get("seen", {})
        records = [r for r in instance.get_run_records(dg.RunsFilter(
            statuses=[dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED],
            updated_after=datetime.fromtimestamp(since, timezone.utc) - OVERLAP), ascending=True)
            if r.dagster_run.run_id not in seen]
        requests = retry_requests(instance, catalog.get_catalog(), [r.dagster_run for r in records],
                                  lab.settings().etl_mode, context.log)
        seen.update({r.dagster_run.run_id: r.update_timestamp.timestamp() for r in records})
        newest = max([since, *seen.values()])
        recent = {run_id: at for run_id, at in seen.items() if at >= newest - OVERLAP.total_seconds()}
        return dg.SensorResult(run_requests=requests, cursor=json.dumps({"updated_after": newest, "seen": recent}))

    return dead_run_sweep
