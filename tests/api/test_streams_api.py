"""The streams API on a real app: push, back-pressure (429, nothing lost), sources, patterns, feedback, WebSocket."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import dagster as dg
import httpx
import numpy as np
import pytest

from labflow.settings import PROJECT_ROOT
from labflow.streams.replay import recorded_events, replay
from labflow.streams.sources import SourceRegistry
from tests.api.conftest import Lab, make_settings, open_lab, uvicorn_server

PROBE_YAML = """
name: probe
fields: [value]
queue_size: {queue}
detectors:
  anomaly: {{warmup: 200}}
"""
T0 = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)


@pytest.fixture
def streams_lab(tmp_path) -> Iterator[Lab]:
    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / "probe.yaml").write_text(PROBE_YAML.format(queue=2000))
    (tmp_path / "sources" / "tiny.yaml").write_text(PROBE_YAML.format(queue=300).replace("probe", "tiny"))
    shutil.copy(PROJECT_ROOT / "sources" / "demo-sensor.yaml", tmp_path / "sources")
    settings = make_settings(tmp_path / "home", LABFLOW_SOURCES_DIR=str(tmp_path / "sources"))
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        lab = open_lab(settings, instance)
        with lab.client:
            yield lab
        lab.catalog.dispose()


def batch(values, start: int = 0) -> list[dict]:
    return [{"event_id": f"e{start + i}", "timestamp": (T0 + timedelta(seconds=start + i)).isoformat(),
             "payload": {"value": float(v)}} for i, v in enumerate(values)]


def wait_processed(lab: Lab, source: str, count: int) -> None:
    intake = lab.app.state.streams.intake
    deadline = time.monotonic() + 30
    while intake.counters().get(source) is None or intake.counters()[source].processed < count:
        assert time.monotonic() < deadline, f"only {intake.counters()[source]} after 30 s"
        time.sleep(0.02)


def test_pushed_events_become_patterns_that_take_feedback(streams_lab: Lab):
    client = streams_lab.client
    values = np.random.default_rng(0).normal(10, 1, 1500)
    values[1200] = 40.0
    for start in range(0, 1500, 500):
        answer = client.post("/api/v1/streams/probe/events", json=batch(values[start:start + 500], start))
        assert answer.status_code == 202, answer.text
        assert answer.json()["accepted"] == 500
    wait_processed(streams_lab, "probe", 1500)

    sources = client.get("/api/v1/sources").json()
    probe = next(s for s in sources["sources"] if s["name"] == "probe")
    assert probe["counters"]["processed"] == 1500 and probe["counters"]["rejected"] == 0

    page = client.get("/api/v1/patterns", params={"source": "probe", "type": "anomaly"}).json()
    spike = next(p for p in page["items"] if p["event_id"] == "e1200")
    assert page["total"] == len(page["items"]) >= 1
    detail = client.get(f"/api/v1/patterns/{spike['pattern_id']}", params={"minutes": 1}).json()
    assert "e1200" in [e["event_id"] for e in detail["events"]] and len(detail["events"]) == 121

    before = probe["thresholds"]["anomaly_quantile"]
    feedback = client.post(f"/api/v1/patterns/{spike['pattern_id']}/feedback",
                           json={"verdict": "false_positive", "note": "someone bumped the probe"})
    assert feedback.status_code == 201, feedback.text
    assert feedback.json()["thresholds"]["anomaly_quantile"] > before
    sources = client.get("/api/v1/sources").json()["sources"]
    assert next(s for s in sources if s["name"] == "probe")["thresholds"]["anomaly_quantile"] > before
    again = client.get(f"/api/v1/patterns/{spike['pattern_id']}").json()
    assert [f["note"] for f in again["feedback"]] == ["someone bumped the probe"]

    metrics = client.get("/metrics").text
    assert 'labflow_stream_events_processed_total{source="probe"} 1500.0' in metrics
    assert 'labflow_stream_events_accepted_total{source="probe"} 1500.0' in metrics
    anomalies = client.get("/api/v1/patterns", params={"source": "probe", "type": "anomaly", "limit": 500}).json()
    assert f'labflow_stream_patterns_total{{source="probe",type="anomaly"}} {float(anomalies["total"])}' in metrics


def test_a_full_queue_answers_429_and_loses_nothing(streams_lab: Lab):
    """Over a real server: while the engine is held, the tiny queue fills; refused batches are resent."""
    streams = streams_lab.app.state.streams
    values = np.random.default_rng(1).normal(10, 1, 1000)
    batches = [batch(values[s:s + 100], s) for s in range(0, 1000, 100)]
    refused = []
    with uvicorn_server(streams_lab.app) as url, httpx.Client(base_url=url) as http:
        with streams.engine.hold():
            for body in batches:
                answer = http.post("/api/v1/streams/tiny/events", json=body)
                if answer.status_code == 429:
                    assert int(answer.headers["Retry-After"]) >= 1
                    assert "send it again" in answer.json()["detail"]
                    refused.append(body)
                else:
                    assert answer.status_code == 202
        assert refused, "the queue never filled"
        for body in refused:  # resend until accepted, as a client should
            while (answer := http.post("/api/v1/streams/tiny/events", json=body)).status_code == 429:
                time.sleep(0.05)
            assert answer.status_code == 202
        wait_processed(streams_lab, "tiny", 1000)
    counters = streams.intake.counters()["tiny"]
    assert counters.processed == counters.accepted == 1000
    assert counters.rejected >= 100 * len(refused)
    spooled = streams.engine.store.read_events("tiny", "2024-05-01T12")
    assert sorted(spooled["event_id"].to_list()) == sorted(f"e{i}" for i in range(1000))


def test_bad_batches_are_refused_with_the_reason(streams_lab: Lab):
    client = streams_lab.client
    bad = client.post("/api/v1/streams/probe/events", json=[{"event_id": "x", "payload": {"value": 1}}])
    assert bad.status_code == 422 and "timestamp: missing" in bad.json()["detail"]
    unknown = client.post("/api/v1/streams/nope/events", json=batch([1.0]))
    assert unknown.status_code == 404 and "there is no source 'nope'" in unknown.json()["detail"]
    big = client.post("/api/v1/streams/tiny/events", json=batch(np.zeros(301)))
    assert big.status_code == 413
    assert client.get("/api/v1/patterns/abcdef0123456789").status_code == 404
    assert client.get("/api/v1/patterns", params={"source": "../../etc"}).status_code == 422


def test_events_pushed_over_a_websocket(streams_lab: Lab):
    with streams_lab.client.websocket_connect("/api/v1/streams/probe/ws") as socket:
        socket.send_json(batch([1.0, 2.0, 3.0]))
        assert socket.receive_json()["accepted"] == 3
        socket.send_json(batch([4.0], start=3)[0])
        assert socket.receive_json()["accepted"] == 1
        socket.send_text("{not json")
        assert "not valid JSON" in socket.receive_json()["error"]
    wait_processed(streams_lab, "probe", 4)


def test_a_recorded_stream_is_replayed_through_a_real_server(streams_lab: Lab):
    registry = SourceRegistry(streams_lab.settings.sources_dir)
    events = recorded_events(PROJECT_ROOT / "examples" / "streams" / "demo-sensor.csv", registry.get("demo-sensor"))
    assert len(events) == 1440 and events[0]["payload"]["temperature_c"] == "21.000"
    with uvicorn_server(streams_lab.app) as url:
        report = replay(events, "demo-sensor", url, speed=0, batch=200)
        wait_processed(streams_lab, "demo-sensor", 1440)
    assert (report.events, report.batches) == (1440, 8)
    found = streams_lab.client.get("/api/v1/patterns", params={"source": "demo-sensor"}).json()["items"]
    kinds = {p["type"] for p in found}
    assert "drift" in kinds, found
    assert any(p["type"] == "anomaly" and p["event_id"] == "demo-sensor:601" for p in found), found


def test_the_replay_command_sends_a_file_and_waits_out_429s(streams_lab: Lab, tmp_path, monkeypatch, capsys):
    from cli.main import main

    recording = tmp_path / "tiny.csv"
    recording.write_text("timestamp,value\n" + "".join(f"2024-05-01T12:{i // 60:02d}:{i % 60:02d}Z,{i % 5}\n"
                                                      for i in range(900)))
    monkeypatch.setenv("LABFLOW_HOME", str(streams_lab.settings.home))
    monkeypatch.setenv("LABFLOW_SOURCES_DIR", str(streams_lab.settings.sources_dir))
    with uvicorn_server(streams_lab.app) as url:
        with streams_lab.app.state.streams.engine.hold():
            holder = threading.Timer(1.5, lambda: None)
            holder.start()
            result = {}
            sender = threading.Thread(target=lambda: result.update(code=main(
                ["replay", str(recording), "--source", "tiny", "--speed", "0", "--batch", "200", "--url", url])))
            sender.start()
            time.sleep(1.5)  # the queue (300) fills while the engine is held: the replay gets 429s and waits
        sender.join(60)
        wait_processed(streams_lab, "tiny", 900)
    assert result["code"] == 0
    out = capsys.readouterr().out
    assert "replayed 900 events of tiny.csv to tiny" in out
    assert int(out.split(" retries after 429")[0].rsplit(", ", 1)[1]) >= 1


def test_patterns_page_newest_first_by_cursor(api):
    from datetime import datetime, timedelta, timezone

    store = api.client.app.state.streams.engine.store
    start = datetime(2024, 5, 1, tzinfo=timezone.utc)
    store.append_patterns("cursor-src", [
        {"pattern_id": f"{i:016x}", "type": "drift", "timestamp": (start + timedelta(minutes=20 * i)).isoformat(),
         "source": "cursor-src", "details": {"confidence": 0.9}} for i in range(9)])
    seen, cursor = [], None
    for _ in range(10):
        params = {"source": "cursor-src", "limit": 4, **({"cursor": cursor} if cursor else {})}
        page = api.client.get("/api/v1/patterns", params=params).json()
        assert (page["total"] == 9) if cursor is None else page["total"] is None
        seen += [p["pattern_id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"{i:016x}" for i in reversed(range(9))]
    first = api.client.get("/api/v1/patterns", params={"source": "cursor-src", "limit": 4}).json()["next_cursor"]
    other = api.client.get("/api/v1/patterns", params={"source": "cursor-src", "type": "anomaly", "cursor": first})
    assert other.status_code == 422 and "other filters" in other.json()["detail"]
