from datetime import datetime, timezone

import pytest

from labflow.streams.events import EventError, parse_batch, parse_event, parse_timestamp


def test_a_valid_event_is_read_with_its_time_in_utc():
    event = parse_event({"event_id": 7, "timestamp": "2024-05-01T14:00:00+02:00", "payload": {"v": 1.5}}, "probe")
    assert event.event_id == "7"
    assert event.timestamp == datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
    assert event.meta == {"version": 1}
    assert event.type == "measurement"
    assert event.to_dict()["timestamp"] == "2024-05-01T12:00:00+00:00"


def test_epoch_seconds_and_z_suffix_are_accepted():
    assert parse_timestamp(0) == datetime(1970, 1, 1, tzinfo=timezone.utc)
    assert parse_timestamp("2024-05-01T12:00:00Z").hour == 12


@pytest.mark.parametrize("raw, says", [
    ({"timestamp": 1, "payload": {}}, "'event_id' is missing"),
    ({"event_id": "a", "payload": {}}, "timestamp: missing"),
    ({"event_id": "a", "timestamp": "yesterday", "payload": {}}, "not an ISO 8601 time"),
    ({"event_id": "a", "timestamp": 1, "payload": [1]}, "'payload' must be an object"),
    ({"event_id": "a", "timestamp": 1, "payload": {}, "meta": {"version": 2}}, "meta.version 2 is not supported"),
    ({"event_id": "a", "timestamp": 1, "payload": {}, "source": "other"}, "sent to source 'probe'"),
])
def test_an_invalid_event_says_what_to_fix(raw, says):
    with pytest.raises(EventError, match=says):
        parse_event(raw, "probe")


def test_a_batch_with_one_bad_event_is_refused_whole_and_names_it():
    good = {"event_id": "1", "timestamp": 1, "payload": {"v": 1}}
    with pytest.raises(EventError, match=r"1 of 2 events are not valid, none was accepted: event 1"):
        parse_batch([good, {"event_id": "2"}], "probe")
    assert [e.event_id for e in parse_batch({"events": [good]}, "probe")] == ["1"]
    with pytest.raises(EventError, match="must be a JSON list"):
        parse_batch("nope", "probe")


def test_an_epoch_outside_the_calendar_is_an_error_not_a_crash():
    with pytest.raises(EventError, match="outside the calendar"):
        parse_timestamp(1e300)
