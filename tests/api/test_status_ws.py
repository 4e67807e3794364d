"""The run status stream: a dropped file's statuses arrive on the WebSocket in order."""

from __future__ import annotations

from datetime import datetime

import pytest

from labflow.review.store import ReviewStore
from tests.api.conftest import InboxDaemon, detected_annotation
from tests.lab_fixtures import drop, signal_csv


@pytest.mark.timeout(120)
def test_a_dropped_file_produces_the_status_sequence_on_the_socket(api):
    daemon = InboxDaemon(api.settings, api.instance, api.resources)
    with api.client.websocket_connect("/api/v1/ws/runs") as socket:
        drop(api.settings.inbox, "hplc-01/run.csv", signal_csv(1))
        daemon.tick()
        (request,) = daemon.tick()  # registered in the catalog: queued
        key = request.partition_key
        events = [socket.receive_json()]
        daemon.execute(request, ["raw_file"])  # the run has started
        events.append(socket.receive_json())
        daemon.execute(request, ["raw_series", "clean_series", "peaks", "quality_report"])
        events.append(socket.receive_json())
        ReviewStore(api.catalog).confirm(key, "ana", detected_annotation(api, key), base_version=0)
        events.append(socket.receive_json())
    assert [(e["run_key"], e["status"]) for e in events] == [
        (key, "queued"), (key, "running"), (key, "done"), (key, "confirmed")]
    times = [datetime.fromisoformat(e["at"]) for e in events]
    assert times == sorted(times)


@pytest.mark.timeout(120)
def test_a_failing_file_ends_failed_with_its_error_and_other_runs_can_be_left_out(api):
    daemon = InboxDaemon(api.settings, api.instance, api.resources)
    drop(api.settings.inbox, "good.csv", signal_csv(2))
    drop(api.settings.inbox, "bad.csv", b"time,value\n1,2\n2,abc\n3,4\n4,5\n")
    daemon.tick()
    requests = daemon.tick()
    keys = api.instance.get_dynamic_partitions("runs")
    bad = next(k for k in keys if k.startswith("bad-"))
    with api.client.websocket_connect(f"/api/v1/ws/runs?run_key={bad}") as socket:
        for request in requests:
            daemon.execute(request)
        events = [socket.receive_json()]
        while events[-1]["status"] == "running":  # seen if a look falls between its start and its failure
            events.append(socket.receive_json())
    assert {e["run_key"] for e in events} == {bad} and events[-1]["status"] == "failed"
    assert "'abc' is not a number" in events[-1]["error"]
