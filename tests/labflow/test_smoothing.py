from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import polars as pl
import pytest

from labflow.processing.recipes import SmoothingParams
from labflow.processing.smoothing import clean_series, remove_baseline, rolling_mean


def reference_rolling_mean(values: np.ndarray, window: int, centered: bool) -> np.ndarray:
    """The definition, one sample at a time: mean of the finite samples in the clipped window."""
    after = (window - 1) // 2 if centered else 0
    before = window - 1 - after
    out = np.full(values.size, np.nan)
    for i in range(values.size):
        chunk = values[max(0, i - before): i + after + 1]
        chunk = chunk[np.isfinite(chunk)]
        if chunk.size:
            out[i] = chunk.mean()
    return out


@pytest.mark.parametrize("window", [1, 2, 3, 4, 7, 8, 25])
@pytest.mark.parametrize("centered", [True, False])
@pytest.mark.parametrize("with_nans", [False, True])
def test_rolling_mean_matches_the_reference_loop(window: int, centered: bool, with_nans: bool):
    rng = np.random.default_rng(window)
    values = rng.normal(size=40) + 3.0
    if with_nans:
        values[[0, 5, 6, 7, 20, 39]] = np.nan
    expected = reference_rolling_mean(values, window, centered)
    np.testing.assert_allclose(rolling_mean(values, window, centered), expected, rtol=1e-12, equal_nan=True)


@pytest.mark.parametrize("window", [2, 3, 4, 9])
@pytest.mark.parametrize("centered", [True, False])
def test_rolling_mean_matches_pandas_including_even_centred_windows(window: int, centered: bool):
    values = np.random.default_rng(1).normal(size=30)
    values[[3, 4, 17]] = np.nan
    expected = pd.Series(values).rolling(window, min_periods=1, center=centered).mean().to_numpy()
    np.testing.assert_allclose(rolling_mean(values, window, centered), expected, equal_nan=True)


def test_even_centred_window_takes_the_extra_sample_from_the_left():
    values = np.array([0.0, 0.0, 0.0, 4.0, 0.0, 0.0])
    # window 4 around index 2 covers indices 0..3; around index 4 it covers 2..5
    np.testing.assert_allclose(rolling_mean(values, 4)[[1, 2, 4, 5]], [0.0, 1.0, 1.0, 4 / 3])


def test_window_one_is_the_identity():
    values = np.array([1.0, np.nan, 3.0, -2.0])
    np.testing.assert_array_equal(rolling_mean(values, 1), values)


def test_window_longer_than_the_series_averages_what_exists():
    values = np.array([1.0, 2.0, np.nan, 5.0])
    np.testing.assert_allclose(rolling_mean(values, 50, centered=False), [1.0, 1.5, 1.5, 8 / 3])
    np.testing.assert_allclose(rolling_mean(values, 51), np.full(4, 8 / 3))


def test_windows_without_any_sample_are_nan():
    values = np.array([1.0, np.nan, np.nan, np.nan, np.nan, 2.0])
    result = rolling_mean(values, 3)
    assert np.isnan(result[2]) and np.isnan(result[3])
    assert np.isnan(rolling_mean(np.full(5, np.nan), 3)).all()
    assert rolling_mean(np.array([]), 3).size == 0


def test_large_offsets_keep_their_precision():
    values = 1e9 + np.random.default_rng(2).normal(size=100_000)
    expected = pd.Series(values).rolling(11, min_periods=1, center=True).mean().to_numpy()
    np.testing.assert_allclose(rolling_mean(values, 11), expected, rtol=0, atol=1e-5)


def test_a_window_below_one_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        rolling_mean(np.ones(3), 0)


def test_linear_baseline_removes_a_ramp_despite_missing_samples():
    x = np.arange(200, dtype=float)
    values = 5.0 + 0.3 * x
    values[[10, 50, 51]] = np.nan
    flat = remove_baseline(values, "linear", 0)
    np.testing.assert_allclose(flat[np.isfinite(flat)], 0.0, atol=1e-9)
    assert np.isnan(flat[[10, 50, 51]]).all()


def test_rolling_min_baseline_removes_a_slow_drift_under_peaks():
    x = np.arange(6000, dtype=float)
    drift = 2.0 + 1.5 * np.sin(2 * np.pi * x / 6000) + 1e-4 * x
    peaks = sum(3.0 * np.exp(-0.5 * ((x - c) / 15.0) ** 2) for c in (1000, 2500, 4000, 5200))
    noise = np.random.default_rng(3).normal(0, 0.02, x.size)
    cleaned = remove_baseline(drift + peaks + noise, "rolling_min", 301)
    far_from_peaks = np.all([np.abs(x - c) > 150 for c in (1000, 2500, 4000, 5200)], axis=0)
    assert abs(np.median(cleaned[far_from_peaks])) < 0.1
    assert np.percentile(np.abs(cleaned[far_from_peaks]), 95) < 0.15
    np.testing.assert_allclose(cleaned[[1000, 2500, 4000, 5200]], 3.0, atol=0.15)


def test_no_baseline_returns_a_copy():
    values = np.array([1.0, 2.0])
    result = remove_baseline(values, "none", 5)
    result[0] = 9.0
    assert values[0] == 1.0


def _series(n: int = 50) -> pl.DataFrame:
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    values = np.sin(np.arange(n) / 5.0)
    return pl.DataFrame({
        "time_s": np.arange(n) * 0.1,
        "timestamp": [start + timedelta(seconds=0.1 * i) for i in range(n)],
        "a": values,
        "b": [None if i in (3, 4, 5) else float(i) for i in range(n)],
        "ignored": np.zeros(n),
    }).with_columns(pl.col("timestamp").cast(pl.Datetime("us", "UTC")))


def test_clean_series_puts_each_cleaned_channel_beside_its_raw_one():
    frame = _series()
    cleaned = clean_series(frame, ["a", "b"], SmoothingParams(window=3))
    assert cleaned.columns == ["time_s", "timestamp", "a", "a_clean", "b", "b_clean"]
    assert cleaned["a"].equals(frame["a"]) and cleaned["b"].equals(frame["b"])
    np.testing.assert_allclose(cleaned["a_clean"].to_numpy(), rolling_mean(frame["a"].to_numpy(), 3))
    assert cleaned["b_clean"][4] is None
    assert cleaned["b_clean"][3] == pytest.approx(2.0)
    assert cleaned.schema["a_clean"] == pl.Float64


def test_clean_series_without_timestamp_and_with_baseline():
    frame = _series().drop("timestamp").with_columns((pl.col("a") + 10 + pl.col("time_s")).alias("a"))
    cleaned = clean_series(frame, ["a"], SmoothingParams(window=1, baseline="linear"))
    assert cleaned.columns == ["time_s", "a", "a_clean"]
    assert abs(cleaned["a_clean"].mean()) < 1e-9


def test_clean_series_names_a_missing_channel():
    with pytest.raises(ValueError, match="'?nope'?.*has time_s"):
        clean_series(_series(), ["nope"], SmoothingParams())
