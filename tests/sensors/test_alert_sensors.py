"""Alert sensors against a real instance: failed checks, low quality, failed runs."""

from __future__ import annotations

import time

import dagster as dg

from lab_assets.etl import run_etl
from labflow.ops.alerts import AlertStore
from labflow.ingest.forward import JOURNAL_NAME, Journal
from resources import LabStorageResource
from sensors.alerts import build_alert_sensors
from tests.lab_fixtures import process_run, register_run, signal_csv

FLAT = ("time_s,signal_mV\n" + "".join(f"{i * 0.1:.1f},1.0\n" for i in range(200))).encode()


def test_failed_checks_and_low_quality_become_alerts_once(lab_settings, lab_resources, catalog, instance):
    good = process_run(lab_settings, catalog, instance, lab_resources, "good.csv", signal_csv(1))
    flat = process_run(lab_settings, catalog, instance, lab_resources, "flat.csv", FLAT)
    _, operations = build_alert_sensors()
    with dg.build_sensor_context(instance=instance, resources=lab_resources) as context:
        first = operations(context)
    alerts = AlertStore(catalog)
    kinds = {(a.kind, a.subject) for a in alerts.list()}
    assert ("check_failed", flat) in kinds and ("quality_low", flat) in kinds
    assert not any(subject == good for _, subject in kinds)
    peaks_alert = next(a for a in alerts.list(kind="check_failed") if "peaks_found" in a.message)
    with dg.build_sensor_context(instance=instance, resources=lab_resources, cursor=first.cursor) as context:
        operations(context)
    assert alerts.get(peaks_alert.id).count == 1  # the cursor moved past the evaluations already seen
    assert all(a.count == 1 for a in alerts.list(kind="quality_low"))


def test_a_failed_run_raises_a_critical_alert_naming_the_file(lab_settings, lab_resources, catalog, instance):
    bad = register_run(lab_settings, catalog, instance, "bad.csv", b"just prose, no table\n")
    result = dg.materialize([run_etl], instance=instance, resources=lab_resources, partition_key=bad,
                            raise_on_error=False)
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    (failure,) = instance.get_records_for_run(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
    failure_sensor, _ = build_alert_sensors()
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_alerts", dagster_event=failure.event_log_entry.dagster_event,
        dagster_instance=instance, dagster_run=run, resources=lab_resources).for_run_failure()
    failure_sensor(context)
    (alert,) = AlertStore(catalog).list(kind="run_failed")
    assert alert.severity == "critical" and alert.subject == bad and alert.details["run_id"] == result.run_id


def test_a_stalled_forwarder_folder_raises_and_then_resolves(tmp_path, lab_resources, catalog, instance, lab_settings):
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    journal = Journal(outbox / JOURNAL_NAME)
    journal.enqueue("run1.csv", 10, 1, "ab" * 32)
    journal.failed("run1.csv", "cannot reach endpoint", time.time() + 60)
    journal._db.execute("UPDATE files SET updated_at = ?", (time.time() - 3600,))  # backdate: an hour ago
    resources = dict(lab_resources)
    resources["lab"] = LabStorageResource.from_settings(lab_settings.model_copy(update={"forward_dirs": (outbox,)}))
    _, operations = build_alert_sensors()
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        operations(context)
    (alert,) = AlertStore(catalog).list(kind="forwarder_stalled")
    assert alert.subject == str(outbox) and "last error: cannot reach endpoint" in alert.message
    journal.sent("run1.csv")
    journal.close()
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        operations(context)
    assert AlertStore(catalog).get(alert.id).resolved_at is not None
