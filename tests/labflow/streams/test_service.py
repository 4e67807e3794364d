"""The stream service: pushed batches, a tailed file and a polled URL all reach the engine; stop checkpoints."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from labflow.settings import Settings
from labflow.streams.events import EventError
from labflow.streams.service import BatchTooLarge, StreamService


def wait_for(check, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def settings(tmp_path) -> Settings:
    (tmp_path / "sources").mkdir()
    return Settings.from_env({"LABFLOW_HOME": str(tmp_path / "home"), "LABFLOW_SOURCES_DIR": str(tmp_path / "sources")})


def test_pushed_batches_are_processed_and_the_state_is_checkpointed_at_stop(settings):
    (settings.sources_dir / "probe.yaml").write_text("name: probe\nfields: [value]\nqueue_size: 100\n")
    service = StreamService(settings)
    events = [{"event_id": str(i), "timestamp": i, "payload": {"value": i % 7}} for i in range(80)]
    assert service.submit("probe", events).accepted
    with pytest.raises(BatchTooLarge, match="at most 100"):
        service.submit("probe", events + events[:30])
    with pytest.raises(EventError):
        service.submit("probe", [{"event_id": "x"}])
    wait_for(lambda: service.intake.counters()["probe"].processed == 80)
    service.stop()
    assert (settings.streams / "state" / "probe.pkl").exists()


def test_a_file_source_is_tailed_as_it_grows(settings, tmp_path):
    feed = tmp_path / "feed.csv"
    feed.write_text("timestamp,value\n")
    (settings.sources_dir / "feed.yaml").write_text(
        f"name: feed\nkind: file\npath: {feed}\nfields: [value]\ninterval_s: 0.1\n")
    service = StreamService(settings)
    service.start()
    try:
        with feed.open("a") as handle:
            handle.writelines(f"2024-05-01T12:00:{i:02d}Z,{i}\n" for i in range(30))
        wait_for(lambda: "feed" in service.intake.counters() and service.intake.counters()["feed"].processed == 30)
        with feed.open("a") as handle:
            handle.write("2024-05-01T12:01:00Z,99\n")
        wait_for(lambda: service.intake.counters()["feed"].processed == 31)
    finally:
        service.stop()
    assert service.engine.store.read_events("feed", "2024-05-01T12").height == 31


def test_a_poll_source_fetches_its_url(settings):
    rows = [{"timestamp": "2024-05-01T12:00:00Z", "value": 1.0, "id": "a"},
            {"timestamp": "2024-05-01T12:00:01Z", "value": 2.0, "id": "b"}]

    class Feed(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server name
            body = json.dumps({"events": rows}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Feed)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    (settings.sources_dir / "feed.yaml").write_text(
        f"name: feed\nkind: poll\nurl: http://127.0.0.1:{server.server_port}/rows\nid_field: id\n"
        "fields: [value]\ninterval_s: 0.2\n")
    service = StreamService(settings)
    service.start()
    try:
        wait_for(lambda: "feed" in service.intake.counters() and service.intake.counters()["feed"].accepted >= 4)
    finally:
        service.stop()
        server.shutdown()
        server.server_close()
    frame = service.engine.store.read_events("feed", "2024-05-01T12")
    assert sorted(frame["event_id"].to_list()) == ["a", "b"], "the same rows polled again are not stored twice"


def test_an_idle_worker_checkpoints_what_it_learned(settings):
    (settings.sources_dir / "probe.yaml").write_text("name: probe\nfields: [value]\n")
    service = StreamService(settings)
    service.engine.checkpoint_every_s = 0.2
    state = settings.streams / "state" / "probe.pkl"
    try:
        service.submit("probe", [{"event_id": "1", "timestamp": 0, "payload": {"value": 1.0}}])
        wait_for(state.exists)
    finally:
        service.stop()
