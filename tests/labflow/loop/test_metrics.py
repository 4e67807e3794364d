"""Point- and event-level metrics, and proposed intervals from scored windows."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from labflow.loop.inference import propose_intervals
from labflow.loop.metrics import evaluate, event_counts


def test_event_and_point_metrics():
    truth = {"a": [(10.0, 20.0), (50.0, 60.0)], "b": []}
    predicted = {"a": [(15.0, 25.0), (80.0, 90.0)], "b": [(1.0, 2.0)]}
    times = {"a": np.arange(100.0), "b": np.arange(100.0)}
    m = evaluate(predicted, truth, times)
    assert m["event_precision"] == pytest.approx(1 / 3) and m["event_recall"] == 0.5
    assert m["event_f1"] == pytest.approx(2 * (1 / 3) * 0.5 / (1 / 3 + 0.5))
    # point level: predicted 11+11+2 = 24 samples, true 22, overlap 6 (15..20)
    assert m["point_precision"] == pytest.approx(6 / 24) and m["point_recall"] == pytest.approx(6 / 22)
    assert evaluate({}, {"a": []})["event_f1"] == 1.0  # nothing to find, nothing proposed
    assert evaluate({}, {"a": [(1.0, 2.0)]})["event_f1"] == 0.0
    assert event_counts([(0.0, 100.0)], [(1.0, 2.0), (5.0, 6.0)]) == (1, 1, 2, 2)


def test_consecutive_hot_windows_merge_into_one_proposal():
    scored = pl.DataFrame({"run_key": ["a"] * 5 + ["b"], "start_index": [0, 8, 16, 24, 32, 0],
                           "end_index": [16, 24, 32, 40, 48, 16], "start_s": [0.0, 8, 16, 24, 32, 0],
                           "end_s": [15.0, 23, 31, 39, 47, 15], "p_anomaly": [0.9, 0.6, 0.1, 0.1, 0.7, 0.2]})
    proposals = propose_intervals(scored, 0.5)
    assert proposals.rows() == [("a", 0.0, 23.0, 0.9, 2), ("a", 32.0, 47.0, 0.7, 1)]
