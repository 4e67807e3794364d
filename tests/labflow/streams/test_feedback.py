"""Feedback is stored and moves the source's thresholds (and the running pipeline's at once)."""

import numpy as np
import pytest

from labflow.streams.feedback import FeedbackBook, thresholds_for
from tests.labflow.streams.conftest import as_events, noise, one_field_source
from tests.labflow.streams.test_engine import make_engine


def test_false_positives_raise_and_true_positives_lower_the_threshold(tmp_path):
    book = FeedbackBook(tmp_path)
    config = one_field_source()
    base = thresholds_for(config, book.strictness("probe"))
    pattern = {"pattern_id": "p1", "source": "probe", "type": "anomaly"}
    record = book.record(pattern, "false_positive", "a door opened")
    stricter = thresholds_for(config, book.strictness("probe"))
    assert stricter.anomaly_quantile > base.anomaly_quantile
    assert record["strictness_after"] == pytest.approx(1.25)
    book.record(pattern, "true_positive")
    book.record(pattern, "true_positive")
    looser = thresholds_for(config, FeedbackBook(tmp_path).strictness("probe"))  # persisted
    assert looser.anomaly_quantile < stricter.anomaly_quantile
    assert [r["verdict"] for r in book.records("probe")] == ["false_positive", "true_positive", "true_positive"]
    assert looser.drift_min_change == base.drift_min_change, "anomaly feedback leaves the drift threshold alone"
    with pytest.raises(ValueError, match="verdict must be one of"):
        book.record(pattern, "maybe")


def test_feedback_on_a_pattern_changes_the_running_pipeline(tmp_path):
    engine = make_engine(tmp_path)
    values = noise(2000)
    values[1500] = 30.0
    result = engine.process("probe", as_events(values))
    anomaly = next(p for p in result.patterns if p.type == "anomaly")
    before = engine.pipelines["probe"].anomaly.quantile
    engine.record_feedback(anomaly.pattern_id, "false_positive", "calibration")
    after = engine.pipelines["probe"].anomaly.quantile
    assert after > before
    assert engine.pipelines["probe"].anomaly.seen == 2000, "feedback keeps what was learned"
    assert np.isclose(1 - after, (1 - before) / 1.25)


def test_false_positives_silence_small_anomalies_and_true_positives_bring_them_back(tmp_path):
    """The threshold the feedback moves is the one the detector alarms at: graded bumps in noise are alarmed
    less after false-positive verdicts and more after true-positive ones."""
    engine = make_engine(tmp_path)
    values = noise(6000, seed=8)
    for i, start in enumerate(range(1000, 6000, 500)):  # ten bumps of 5 events, 1.5 to 3.75 sd high
        values[start:start + 5] += 1.5 + 0.25 * i

    def alarms_after(verdict: str | None, times: int) -> int:
        pattern = {"pattern_id": "p", "source": "probe", "type": "anomaly"}
        book = FeedbackBook(tmp_path / f"book-{verdict}")
        for _ in range(times if verdict else 0):
            book.record(pattern, verdict)
        config = one_field_source()
        from labflow.streams.engine import SourcePipeline

        pipeline = SourcePipeline(config, thresholds_for(config, book.strictness("probe")))
        return sum(p.type == "anomaly" for p in pipeline.process(as_events(values)).patterns)

    stricter, plain, looser = alarms_after("false_positive", 8), alarms_after(None, 0), alarms_after("true_positive", 8)
    assert stricter < plain < looser, (stricter, plain, looser)
