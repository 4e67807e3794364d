"""Tailing a growing file: only complete new rows, once each, across restarts."""

from labflow.streams.connectors import FileTail
from labflow.streams.sources import source_from_mapping


def test_a_growing_csv_is_read_row_by_row_once(tmp_path):
    path = tmp_path / "feed.csv"
    config = source_from_mapping({"name": "feed", "fields": ["value"], "kind": "file", "path": str(path),
                                  "timestamp": {"field": "time", "format": "%Y-%m-%d %H:%M:%S",
                                                "utc_offset_hours": 2}}, "test")
    path.write_text("time,value\n2024-05-01 14:00:00,1.5\n2024-05-01 14:00:05,2")
    tail = FileTail(config, tmp_path / "state")
    events = tail.poll()
    assert [(e.payload["value"], e.timestamp.hour) for e in events] == [("1.5", 12)]  # the last line is incomplete
    tail.commit()
    with path.open("a") as handle:
        handle.write(".5\n2024-05-01 14:00:10,3\n")
    again = FileTail(config, tmp_path / "state")  # a restart: resumes at the committed offset
    assert [e.payload["value"] for e in again.poll()] == ["2.5", "3"]
    assert again.poll() == []


def test_a_jsonl_file_with_standard_events_is_passed_through(tmp_path):
    path = tmp_path / "feed.jsonl"
    path.write_text('{"event_id": "x1", "timestamp": "2024-05-01T12:00:00Z", "payload": {"value": 1}}\n')
    config = source_from_mapping({"name": "feed", "fields": ["value"], "kind": "file", "path": str(path)}, "t")
    assert [e.event_id for e in FileTail(config, tmp_path).poll()] == ["x1"]
