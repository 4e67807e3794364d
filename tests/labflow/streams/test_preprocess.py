"""Preprocessing: UTC frame, duplicates dropped (in a batch and across batches), derived fields."""

import pytest

from labflow.streams.preprocess import SeenIds, prepare_events
from labflow.streams.sources import SourceConfigError, source_from_mapping
from tests.labflow.streams.conftest import as_events


def ratio_source(expr: str = "a / b"):
    return source_from_mapping({"name": "probe", "fields": ["a", "b"], "derived": {"ratio": expr}}, "test")


def test_derived_fields_duplicates_and_bad_values():
    events = as_events([0, 0, 0, 0])
    for event, (a, b) in zip(events, [(1, 2), (3, 0), (0, 0), ("x", 4)]):
        event.payload.update(a=a, b=b)
    seen = SeenIds()
    frame = prepare_events(events + events[:1], ratio_source(), seen)
    assert frame["event_id"].to_list() == ["0", "1", "2", "3"]
    assert frame["ratio"].to_list() == [0.5, None, None, None]
    assert str(frame["timestamp"].dtype) == "Datetime(time_unit='us', time_zone='UTC')"
    assert prepare_events(events[2:], ratio_source(), seen).height == 0, "re-sent events are dropped"


def test_a_derived_field_that_cannot_be_computed_names_the_source():
    events = as_events([1.0])
    events[0].payload.update(a=1, b=2)
    with pytest.raises(SourceConfigError, match="source 'probe': a derived field cannot be computed"):
        prepare_events(events, ratio_source("a / nope"))
