"""Anomalies come with a reason a person can read."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from labflow.forecasting.anomalies import find_anomalies

TIMES = [datetime(2024, 3, 1) + timedelta(hours=h) for h in range(4)]


def test_readings_outside_the_interval_are_flagged_with_how_far():
    found = find_anomalies(TIMES, actual=np.array([10.0, 29.0, 4.0, np.nan]), predicted=np.array([10, 18, 10, 10.0]),
                           lower=np.array([8, 15, 8, 8.0]), upper=np.array([12, 20, 12, 12.0]))
    assert [(a.timestamp.hour, a.direction) for a in found] == [(1, "above"), (2, "below")]
    assert found[0].reason == "exceeds the predicted upper bound by 45% (29 vs at most 20, expected 18)"
    assert found[0].excess == 0.45
    assert found[1].reason == "falls below the predicted lower bound by 50% (4 vs at least 8, expected 10)"


def test_a_bound_of_zero_gives_the_excess_in_units():
    found = find_anomalies(TIMES[:1], actual=np.array([3.0]), predicted=np.array([0.0]), lower=np.array([0.0]),
                           upper=np.array([0.0]))
    assert found[0].reason.startswith("exceeds the predicted upper bound by 3 (")
