"""Objective extraction by each recipe rule, on measured peaks of a known signal."""

from __future__ import annotations

import numpy as np
import pytest

from labflow.processing.objective import compute_objective
from labflow.processing.peaks import empty_table, measure_peaks
from labflow.processing.recipes import ObjectiveParams

T = np.linspace(0, 10, 2001)
Y = 1.0 * np.exp(-0.5 * ((T - 3) / 0.2) ** 2) + 0.5 * np.exp(-0.5 * ((T - 7) / 0.3) ** 2)
PEAKS = measure_peaks(T, Y, np.array([3.0, 7.0]))


def test_main_peak_height_and_area_use_the_highest_peak():
    height = compute_objective(ObjectiveParams(kind="main_peak_height"), PEAKS, T, Y)
    assert height.value == pytest.approx(1.0) and height.peak_time_s == pytest.approx(3.0)
    area = compute_objective(ObjectiveParams(kind="main_peak_area"), PEAKS, T, Y)
    assert area.value == pytest.approx(0.2 * np.sqrt(2 * np.pi), rel=0.05)  # Gaussian area


def test_peak_near_picks_the_closest_peak_within_the_window():
    near = compute_objective(ObjectiveParams(kind="peak_near", position_s=6.5), PEAKS, T, Y)
    assert near.value == pytest.approx(0.5, rel=1e-3) and near.peak_time_s == pytest.approx(7.0)
    outside = compute_objective(ObjectiveParams(kind="peak_near", position_s=5.0, window_s=0.5), PEAKS, T, Y)
    assert outside.value is None and "no peak within 0.5 s of 5 s" in outside.detail


def test_plateau_mean_over_a_window_or_the_last_tenth():
    flat = np.where(T > 8, 2.0, 0.0)
    assert compute_objective(ObjectiveParams(kind="plateau_mean"), empty_table(), T, flat).value == pytest.approx(2.0)
    window = ObjectiveParams(kind="plateau_mean", position_s=4.0, window_s=2.0)
    assert compute_objective(window, empty_table(), T, flat).value == pytest.approx(0.0)


def test_no_peaks_gives_no_value_and_says_why():
    result = compute_objective(ObjectiveParams(), empty_table(), T, Y)
    assert result.value is None and result.detail == "no peaks: nothing to measure"


def test_a_moved_peak_snaps_to_the_apex_near_the_click():
    table = measure_peaks(T, Y, np.array([7.03]))
    assert table["time_s"][0] == pytest.approx(7.0) and table["height"][0] == pytest.approx(0.5, rel=1e-3)
