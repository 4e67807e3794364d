"""Alert sensors: failed runs (a run-failure sensor), and failed checks, low quality, a stuck inbox, a stalled
forwarder and failing sensors (a periodic sensor). Both only call :mod:`labflow.ops.alerts` and store into the catalog."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
from dagster._core.scheduler.instigation import InstigatorType, TickStatus

from labflow.ops.alerts import (AlertDraft, AlertStore, AlertThresholds, check_failed_alert, forwarder_alerts,
                            inbox_alerts, quality_alerts, run_failed_alert, sensor_error_alert)
from labflow.ingest.forward import waiting_files
from labflow.runtime_config import load_runtime_config
from resources import CatalogResource, LabStorageResource
from lab_assets.gateway import check_evaluation

OPERATIONS_INTERVAL_S = 30
MAX_CHECK_EVENTS_PER_TICK = 2000
QUALITY_EPSILON = 1e-9


def failed_run_keys(run: dg.DagsterRun) -> list[str]:
    """The run keys (partitions) a failed Dagster run was processing, from its tags."""
    tags = run.tags
    if "dagster/partition" in tags:
        return [tags["dagster/partition"]]
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    return [key for key in (start, end) if key]


def check_failure_alerts(records: list[dg.EventLogRecord]) -> list[AlertDraft]:
    """Alerts for the failed asset-check evaluations among ``records``."""
    drafts = []
    for record in records:
        evaluation, partition = check_evaluation(record)
        if evaluation is not None and not evaluation.passed:
            drafts.append(check_failed_alert(evaluation.check_name, evaluation.asset_key.to_user_string(),
                                             partition, evaluation.description or "no description"))
    return drafts


def sensor_error_alerts(instance: dg.DagsterInstance) -> list[AlertDraft]:
    """An alert for every sensor whose latest tick failed."""
    drafts = []
    for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
        ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=1)
        if ticks and ticks[0].status == TickStatus.FAILURE:
            error = ticks[0].error.message if ticks[0].error else ""
            drafts.append(sensor_error_alert(state.instigator_name, error))
    return drafts


def stalled_forwarder_alerts(folders: tuple[Path, ...], thresholds: AlertThresholds, now: datetime
                             ) -> list[AlertDraft]:
    """Alerts for store-and-forward folders (``LABFLOW_FORWARD_DIRS``) with files stuck unsent."""
    drafts = []
    for folder in folders:
        waiting = [(e.rel, e.state, e.updated_at, e.reason) for e in waiting_files(folder)]
        drafts += forwarder_alerts(str(folder), waiting, thresholds, now)
    return drafts


def build_alert_sensors() -> list[dg.SensorDefinition]:
    """The run-failure sensor and the periodic operations-alerts sensor, both on by default."""

    @dg.run_failure_sensor(name="run_failure_alerts", default_status=dg.DefaultSensorStatus.RUNNING,
                           description="Raises a critical alert for every failed run, naming its files.")
    def run_failure_alerts(context: dg.RunFailureSensorContext, catalog: CatalogResource) -> None:
        run = context.dagster_run
        message = (context.failure_event.message or "failed").splitlines()[0]
        AlertStore(catalog.get_catalog()).raise_alerts(
            [run_failed_alert(run.run_id, run.job_name, message, failed_run_keys(run))])

    @dg.sensor(name="operations_alerts", minimum_interval_seconds=OPERATIONS_INTERVAL_S,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Failed asset checks, runs below the quality threshold, files stuck in the inbox, "
               "failing sensors → alerts (thresholds editable in the app's Settings view).")
    def operations_alerts(context: dg.SensorEvaluationContext, catalog: CatalogResource,
                          lab: LabStorageResource) -> dg.SensorResult:
        settings = lab.settings()
        runs = catalog.get_catalog()
        store = AlertStore(runs)
        thresholds = load_runtime_config(settings).alerts
        # A timestamp cursor: storage ids are per run on the embedded (run-sharded SQLite) event log.
        after = json.loads(context.cursor)["checks_after"] if context.cursor else None
        records = list(context.instance.get_event_records(
            dg.EventRecordsFilter(dg.DagsterEventType.ASSET_CHECK_EVALUATION, after_timestamp=after),
            limit=MAX_CHECK_EVENTS_PER_TICK, ascending=True))
        store.raise_alerts(check_failure_alerts(records))
        low = runs.find_runs(status="processed", max_quality=thresholds.min_quality - QUALITY_EPSILON, limit=5000)
        store.raise_alerts(quality_alerts(low, thresholds), only_new=True)
        now = datetime.now(timezone.utc)
        for kind, drafts in (("inbox_backlog", inbox_alerts(settings.inbox, runs.ingest_sources(), thresholds, now)),
                             ("sensor_error", sensor_error_alerts(context.instance)),
                             ("forwarder_stalled", stalled_forwarder_alerts(settings.forward_dirs, thresholds, now))):
            store.raise_alerts(drafts, now=now)
            store.resolve_missing(kind, [d.fingerprint for d in drafts], now=now)
        cursor = records[-1].timestamp if records else after
        return dg.SensorResult(cursor=json.dumps({"checks_after": cursor}))

    return [run_failure_alerts, operations_alerts]
