"""The alert store and the alert rules."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import pytest

from labflow.ops.alerts import (AlertNotFound, AlertStore, AlertThresholds, forwarder_alerts, inbox_alerts, quality_alerts,
                            run_failed_alert, sensor_error_alert)
from labflow.store.catalog import RunRecord

T0 = datetime(2026, 3, 1, 8, tzinfo=timezone.utc)


@pytest.fixture
def alerts(catalog) -> AlertStore:
    return AlertStore(catalog)


def test_raising_again_refreshes_instead_of_duplicating(alerts):
    alert = run_failed_alert("abcdef123456", "__ASSET_JOB", "boom", ["r1"])
    assert alerts.raise_alerts([alert], now=T0) == 1
    assert alerts.raise_alerts([alert], now=T0 + timedelta(minutes=5)) == 0
    (stored,) = alerts.list()
    assert (stored.count, stored.first_seen, stored.last_seen) == (2, T0, T0 + timedelta(minutes=5))
    assert stored.severity == "critical" and stored.subject == "r1" and "failed: boom" in stored.message
    assert alerts.raise_alerts([alert], now=T0, only_new=True) == 0 and alerts.get(stored.id).count == 2


def test_acknowledge_resolve_and_reopen(alerts):
    backlog = sensor_error_alert("inbox_sensor", "Traceback...\nOSError: disk full")
    alerts.raise_alerts([backlog], now=T0)
    (alert,) = alerts.list(state="open")
    assert alert.message == "sensor inbox_sensor failed: OSError: disk full"
    acked = alerts.acknowledge(alert.id, "ana", now=T0 + timedelta(minutes=1))
    assert acked.acknowledged_by == "ana" and not acked.open and alerts.list(state="open") == []
    assert alerts.resolve_missing("sensor_error", [], now=T0 + timedelta(minutes=2)) == 1
    assert [a.id for a in alerts.list(state="resolved")] == [alert.id]
    assert alerts.raise_alerts([backlog], now=T0 + timedelta(minutes=3)) == 1  # fires again → open again
    assert alerts.get(alert.id).open and alerts.get(alert.id).count == 2


def test_bad_requests_are_refused(alerts):
    with pytest.raises(AlertNotFound):
        alerts.acknowledge(999, "ana")
    alerts.raise_alerts([run_failed_alert("r", "job", "x", [])])
    with pytest.raises(ValueError, match="who"):
        alerts.acknowledge(alerts.list()[0].id, " ")
    with pytest.raises(ValueError, match="unknown alert state"):
        alerts.list(state="closed")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown severity"):
        alerts.list(severity="urgent")


def run(key: str, score: float | None, flags: list[str]) -> RunRecord:
    return RunRecord(key, "s", 1, f"{key}.csv", "inbox", "/o", None, None, T0, None, None, None, None, None, {},
                     "processed", None, None, None, T0, score, flags)


def test_quality_rule_uses_the_threshold():
    drafts = quality_alerts([run("a", 0.2, ["clipping"]), run("b", 0.8, []), run("c", None, [])],
                            AlertThresholds(min_quality=0.5))
    assert [(d.fingerprint, d.message) for d in drafts] == [
        ("quality_low:a", "quality score 0.20 is below 0.50 (clipping)")]


def test_inbox_rule_finds_old_files_not_ingested(tmp_path):
    now = datetime.now(timezone.utc)
    for name, age_min in [("old.csv", 30), ("fresh.csv", 1), ("done.csv", 30), ("run.csv.part", 30)]:
        path = tmp_path / name
        path.write_text("t,v\n")
        stamp = (now - timedelta(minutes=age_min)).timestamp()
        os.utime(path, (stamp, stamp))
    ingested = {"inbox:done.csv": now - timedelta(minutes=20)}
    (alert,) = inbox_alerts(tmp_path, ingested, AlertThresholds(inbox_max_age_min=15), now)
    assert alert.details["files"] == ["old.csv"] and "1 file(s) waiting" in alert.message
    assert inbox_alerts(tmp_path, {**ingested, "inbox:old.csv": now}, AlertThresholds(), now) == []


def test_forwarder_rule_flags_files_unsent_for_too_long():
    now = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
    old, fresh = (now - timedelta(minutes=45)).timestamp(), (now - timedelta(minutes=2)).timestamp()
    waiting = [("a.csv", "failed", old, "cannot reach endpoint http://s3:9000"), ("b.csv", "pending", fresh, None)]
    (alert,) = forwarder_alerts("/lab/outbox", waiting, AlertThresholds(forwarder_stall_min=30), now)
    assert alert.fingerprint == "forwarder_stalled:/lab/outbox" and alert.details["files"] == ["a.csv"]
    assert "last error: cannot reach endpoint" in alert.message
    assert forwarder_alerts("/lab/outbox", waiting[1:], AlertThresholds(), now) == []
