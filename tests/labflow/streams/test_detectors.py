"""Each detector finds what was injected into a stream generated here, and stays quiet before it."""

import numpy as np

from labflow.streams.engine import SourcePipeline
from tests.labflow.streams.conftest import as_events, noise, one_field_source


def patterns_of(values, **detectors):
    pipeline = SourcePipeline(one_field_source(**detectors))
    return pipeline.process(as_events(values)).patterns


def test_a_spike_is_an_anomaly_with_its_field_as_contributor():
    values = noise(3000)
    values[2500] = 25.0
    found = [p for p in patterns_of(values) if p.type == "anomaly"]
    at_spike = [p for p in found if p.event_id == "2500"]
    assert at_spike, f"no anomaly at the spike; anomalies at {[p.event_id for p in found]}"
    assert at_spike[0].contributors[0].field == "value"
    assert at_spike[0].metrics["score"] >= at_spike[0].metrics["threshold"]
    assert len(found) <= 15, "the adaptive threshold should keep plain noise mostly quiet"


def test_a_level_shift_is_a_drift_with_before_and_after_means():
    values = np.r_[noise(2000), noise(2000, mean=13.0, seed=1)]
    drifts = [p for p in patterns_of(values) if p.type == "drift"]
    assert drifts, "the level shift was not detected"
    first = drifts[0]
    assert 2000 <= int(first.event_id) <= 2300
    assert first.prev_state["value"]["mean"] < 11.0 < first.new_state["value"]["mean"]
    assert first.metrics["detector"] == "ADWIN"


def test_no_drift_in_stationary_noise():
    assert not [p for p in patterns_of(noise(4000, seed=3)) if p.type == "drift"]


def test_a_regime_change_moves_the_centroids():
    values = np.r_[noise(2000), noise(2000, mean=20.0, sd=3.0, seed=2)]
    changes = [p for p in patterns_of(values) if p.type == "cluster_change"]
    assert changes, "the regime change was not detected"
    assert 2000 <= int(changes[0].event_id) <= 2800
    assert changes[0].metrics["shift"] >= changes[0].metrics["min_shift"]
    assert not [p for p in patterns_of(noise(4000, seed=4)) if p.type == "cluster_change"]


def test_a_label_stream_drives_a_ddm_drift():
    from labflow.streams.sources import source_from_mapping

    config = source_from_mapping({"name": "probe", "fields": ["value"], "label_field": "faulty"}, "test")
    events = as_events(noise(3000, seed=5))
    flips = np.random.default_rng(6).random(3000)
    for i, event in enumerate(events):  # 10 % of labels disagree with the detector, then 70 %
        event.payload["faulty"] = bool(flips[i] < (0.1 if i < 1500 else 0.7))
    found = SourcePipeline(config).process(events).patterns
    ddm = [p for p in found if p.type == "drift" and p.metrics.get("detector") == "DDM"]
    assert ddm and int(ddm[0].event_id) >= 1500


def test_text_and_non_finite_values_do_not_break_the_detectors():
    from tests.labflow.streams.conftest import as_events

    events = as_events(noise(600))
    events[300].payload["value"] = "n/a"
    events[301].payload["value"] = float("inf")
    events[302].payload["value"] = 10 ** 400
    pipeline = SourcePipeline(one_field_source())
    result = pipeline.process(events)
    assert result.frame["value"].null_count() == 3
    assert all(0.0 <= s <= 1.0 for s in result.scores)


def test_pattern_details_are_finite_numbers():
    import json
    import math

    values = noise(1500)
    values[1000] = 30.0
    found = [p for p in patterns_of(values) if p.type == "anomaly"]
    assert found
    for pattern in found:
        text = json.dumps(pattern.to_dict())
        assert "NaN" not in text and "Infinity" not in text
        assert all(math.isfinite(c.score) for c in pattern.contributors)
