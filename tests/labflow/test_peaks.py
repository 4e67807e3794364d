import dataclasses

import numpy as np
import polars as pl
import pytest
from scipy.signal import find_peaks

from labflow.processing.peaks import PeakResult, Search, detect_peaks, dominant_split, estimate_noise, find_candidates
from labflow.processing.recipes import PeakParams
from labflow.processing.smoothing import rolling_mean

AUTO = PeakParams()
FWHM_PER_SIGMA = 2 * np.sqrt(2 * np.log(2))


def gaussians(t: np.ndarray, centres: list[float], heights: list[float], sigma: float) -> np.ndarray:
    return sum((h * np.exp(-0.5 * ((t - c) / sigma) ** 2) for c, h in zip(centres, heights)), np.zeros_like(t))


def chromatogram(seed: int = 0, heights: tuple[float, ...] = (10.0, 6.0, 3.0, 8.0, 2.0)):
    """Five Gaussian peaks (sigma 0.4 s) on white noise (sd 0.05), 100 Hz, 60 s."""
    t = np.arange(0, 60, 0.01)
    centres = [8.0, 17.0, 29.0, 41.0, 52.0]
    noise = np.random.default_rng(seed).normal(0, 0.05, t.size)
    return t, gaussians(t, centres, list(heights), 0.4) + noise, centres


def ecg_like(seed: int = 0, seconds: float = 40.0):
    """R spikes (1.4, sd 12 ms), T waves (0.3, sd 40 ms), P waves (0.12), baseline wander and noise at 250 Hz."""
    t = np.arange(0, seconds, 1 / 250)
    beats = np.arange(0.4, seconds - 0.5, 0.85)
    signal = (gaussians(t, list(beats), [1.4] * beats.size, 0.012)
              + gaussians(t, list(beats + 0.25), [0.3] * beats.size, 0.04)
              + gaussians(t, list(beats - 0.18), [0.12] * beats.size, 0.025)
              + 0.2 * np.sin(2 * np.pi * 0.15 * t)
              + np.random.default_rng(seed).normal(0, 0.03, t.size))
    return t, signal, beats


def nearest_distance(found: np.ndarray, expected: list[float] | np.ndarray) -> np.ndarray:
    expected = np.asarray(expected)
    return np.abs(found[:, None] - expected[None, :]).min(axis=0)


@pytest.mark.parametrize("window", [1, 5])
def test_gaussian_peaks_are_found_with_their_analytic_shape(window: int):
    t, signal, centres = chromatogram()
    result = detect_peaks(t, rolling_mean(signal, window), AUTO)
    table = result.table.sort("time_s")
    assert table.height == len(centres)
    assert nearest_distance(table["time_s"].to_numpy(), centres).max() <= 0.1
    heights = np.array([10.0, 6.0, 3.0, 8.0, 2.0])
    np.testing.assert_allclose(table["height"].to_numpy(), heights, atol=0.2)
    np.testing.assert_allclose(table["prominence"].to_numpy(), heights, atol=0.3)
    np.testing.assert_allclose(table["width_s"].to_numpy(), FWHM_PER_SIGMA * 0.4, rtol=0.05)
    np.testing.assert_allclose(table["area"].to_numpy(), heights * 0.4 * np.sqrt(2 * np.pi), rtol=0.03)


def test_noise_free_peak_has_exact_width_and_area():
    t = np.linspace(0, 20, 4001)
    result = detect_peaks(t, gaussians(t, [9.0], [2.0], 0.5), AUTO)
    row = result.table.row(0, named=True)
    assert row["time_s"] == pytest.approx(9.0)
    assert row["height"] == pytest.approx(2.0)
    assert row["width_s"] == pytest.approx(FWHM_PER_SIGMA * 0.5, rel=1e-3)
    assert row["area"] == pytest.approx(2.0 * 0.5 * np.sqrt(2 * np.pi), rel=2e-3)


def test_table_schema_and_frozen_result():
    result = detect_peaks(*chromatogram()[:2], AUTO)
    assert result.table.schema == pl.Schema({
        "peak_index": pl.Int64, "time_s": pl.Float64, "height": pl.Float64,
        "prominence": pl.Float64, "width_s": pl.Float64, "area": pl.Float64,
    })
    assert isinstance(result, PeakResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.table = pl.DataFrame()  # type: ignore[misc]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auto_keeps_only_the_r_like_spikes_of_an_ecg(seed: int):
    t, signal, beats = ecg_like(seed)
    result = detect_peaks(t, rolling_mean(signal, 3), AUTO)
    found = result.table["time_s"].to_numpy()
    assert found.size == beats.size
    assert nearest_distance(found, beats).max() <= 0.01
    assert "dominant-class split" in str(result.thresholds["prominence_rule"])
    every = detect_peaks(t, rolling_mean(signal, 3), PeakParams(mode="all"))
    assert every.table.height >= 2 * beats.size


@pytest.mark.parametrize("seed", range(5))
def test_auto_keeps_a_five_times_smaller_chromatogram_peak(seed: int):
    t, signal, centres = chromatogram(seed)
    result = detect_peaks(t, rolling_mean(signal, 5), AUTO)
    assert result.table.height == 5
    smallest = result.table.filter(pl.col("time_s").is_between(51.5, 52.5))
    assert smallest["height"].to_list() == [pytest.approx(2.0, abs=0.2)]
    assert result.thresholds["prominence_rule"] == "5 x noise"


def test_dominant_mode_always_splits():
    t, signal, _ = chromatogram()
    result = detect_peaks(t, signal, PeakParams(mode="dominant"))
    assert 0 < result.table.height < 5
    assert "split" in str(result.thresholds["prominence_rule"])


def test_explicit_thresholds_are_honoured():
    t, signal, _ = chromatogram()
    tall = detect_peaks(t, signal, PeakParams(min_height=5.0))
    assert sorted(np.round(tall.table["height"].to_numpy())) == [6.0, 8.0, 10.0]
    assert tall.thresholds["height_rule"] == "explicit (min_height)"
    prominent = detect_peaks(t, signal, PeakParams(min_prominence=4.0))
    assert prominent.table["prominence"].min() >= 4.0 and prominent.table.height == 3
    assert prominent.thresholds["prominence"] == 4.0
    apart = detect_peaks(t, signal, PeakParams(min_distance_s=15.0))
    assert np.diff(apart.table["time_s"].to_numpy()).min() >= 15.0
    assert apart.thresholds["distance_rule"] == "explicit (min_distance_s)"
    wide = detect_peaks(t, signal, PeakParams(min_width_s=2.0))
    assert wide.table.height == 0


def test_explicit_prominence_switches_the_class_split_off_in_auto():
    t, signal, beats = ecg_like()
    result = detect_peaks(t, signal, PeakParams(min_prominence=0.2))
    assert result.table.height > beats.size
    assert result.thresholds["prominence_rule"] == "explicit (min_prominence)"


@pytest.mark.parametrize("n", [200, 5_000, 200_000])
@pytest.mark.parametrize("window", [1, 5, 9])
def test_noise_alone_gives_almost_no_peaks(n: int, window: int):
    noise = rolling_mean(np.random.default_rng(n + window).normal(size=n), window)
    assert detect_peaks(np.arange(n) * 0.01, noise, AUTO).table.height <= 1


def test_a_flat_signal_has_no_peaks():
    assert detect_peaks(np.arange(100.0), np.full(100, 3.0), AUTO).table.height == 0


@pytest.mark.parametrize("n", range(11))
def test_tiny_inputs_do_not_crash(n: int):
    values = np.random.default_rng(n).normal(size=n)
    result = detect_peaks(np.arange(n, dtype=float), values, AUTO)
    assert result.table.height <= n // 2


def test_an_obvious_peak_in_five_samples_is_found():
    result = detect_peaks(np.arange(5.0), np.array([0.0, 1.0, 5.0, 1.0, 0.0]), AUTO)
    assert result.table["peak_index"].to_list() == [2]
    assert result.table["area"][0] == pytest.approx(7.0)


def test_missing_samples_are_bridged():
    t, signal, centres = chromatogram()
    rng = np.random.default_rng(5)
    signal[rng.random(signal.size) < 0.05] = np.nan
    signal[3000:3060] = np.nan
    result = detect_peaks(t, signal, AUTO)
    assert nearest_distance(result.table["time_s"].to_numpy(), centres).max() <= 0.1
    assert detect_peaks(t, np.full(t.size, np.nan), AUTO).table.height == 0


def test_negative_baseline_offset_and_drift_change_nothing_but_heights():
    t, signal, centres = chromatogram()
    shifted = signal - 50.0 + 0.02 * t
    plain = detect_peaks(t, signal, AUTO).table
    moved = detect_peaks(t, shifted, AUTO).table
    assert moved["peak_index"].to_list() == plain["peak_index"].to_list()
    assert (moved["height"] < -35).all()
    np.testing.assert_allclose(moved["area"].to_numpy(), plain["area"].to_numpy(), rtol=0.02)


def test_thresholds_explain_how_they_were_chosen():
    result = detect_peaks(*chromatogram()[:2], AUTO)
    thresholds = result.thresholds
    assert {"noise", "noise_rule", "height", "height_rule", "prominence", "prominence_rule",
            "distance_s", "distance_rule", "candidates", "mode"} <= set(thresholds)
    assert thresholds["noise"] == pytest.approx(0.05, rel=0.15)
    assert all(isinstance(v, (int, float, str)) for v in thresholds.values())


def test_noise_estimate_sees_through_smoothing():
    noise = np.random.default_rng(0).normal(size=100_000)
    for window in (1, 5, 9):
        smoothed = rolling_mean(noise, window)
        sigma, _ = estimate_noise(smoothed)
        assert sigma == pytest.approx(smoothed.std(), rel=0.1)


def test_dominant_split_separates_two_tight_classes_only():
    rng = np.random.default_rng(0)
    two_classes = np.exp(np.concatenate([rng.normal(np.log(1.5), 0.1, 60), rng.normal(np.log(0.3), 0.2, 60)]))
    split = dominant_split(two_classes)
    assert split is not None and 0.45 < split.threshold < 1.2
    assert dominant_split(10 ** rng.uniform(0, 2, 60)) is None
    assert dominant_split(two_classes[::12]) is None
    assert dominant_split(10 ** rng.uniform(0, 2, 60), force=True) is not None


def test_candidates_match_scipy_find_peaks():
    rng = np.random.default_rng(4)
    walk = np.cumsum(rng.normal(size=20_000)) + rng.normal(0, 2, 20_000)
    height = np.quantile(walk, 0.3)
    expected, props = find_peaks(walk, height=height, prominence=3.0)
    found, found_props = find_candidates(walk, Search(height=height, prominence=3.0))
    np.testing.assert_array_equal(found, expected)
    np.testing.assert_allclose(found_props["prominences"], props["prominences"])


def test_time_and_values_must_have_the_same_length():
    with pytest.raises(ValueError, match="3 times but 4 values"):
        detect_peaks(np.arange(3.0), np.arange(4.0), AUTO)
