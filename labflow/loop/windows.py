"""Sliding windows over a run's series, each with features that mean the same on any instrument's scale.

A window is ``window`` consecutive samples starting every ``step`` samples. Its features compare it
with the whole series (robust z-scores) and with its neighbourhood (the ``context`` windows before and
after it): level shifts, spikes, bursts of noise and jumps stand out however large the raw values are.
Missing samples are bridged by linear interpolation first.

Example::

    frame = series_windows("run_003-3fa9c1d2e4", time_s, values, window=32, step=16)
    frame.select(FEATURES).to_numpy()   # one row per window, what the model sees
"""

from __future__ import annotations

import numpy as np
import polars as pl
from numpy.lib.stride_tricks import sliding_window_view

FEATURES: tuple[str, ...] = ("f_mean_z", "f_std_z", "f_min_z", "f_max_z", "f_range_z", "f_shift_before",
                             "f_shift_after", "f_peak_dev", "f_std_ratio", "f_jump", "f_slope", "f_kurtosis",
                             "f_long_dev", "f_long_shift", "f_rarity")
CONTEXT_WINDOWS = 4
LONG_CONTEXT_WINDOWS = 9
_EPS = 1e-9


def series_windows(run_key: str, time_s: np.ndarray, values: np.ndarray, *, window: int = 32,
                   step: int = 16) -> pl.DataFrame:
    """One row per window of the series: ``window_id``, run key, sample range, time range and features.

    A series shorter than one window gives a single window over all of it (or none when it has
    fewer than 4 samples).
    """
    values = _bridged(np.asarray(values, dtype=np.float64))
    time_s = np.asarray(time_s, dtype=np.float64)
    n = values.size
    if n < 4:
        return _empty()
    window = min(window, n)
    starts = np.arange(0, n - window + 1, step, dtype=np.int64)
    if starts[-1] + window < n:  # the tail is covered too
        starts = np.append(starts, n - window)
    features = window_features(values, starts, window)
    ends = starts + window
    return pl.DataFrame({
        "window_id": [f"{run_key}:{s}" for s in starts.tolist()],
        "run_key": pl.Series([run_key] * starts.size, dtype=pl.String),
        "start_index": starts, "end_index": ends,
        "start_s": time_s[starts], "end_s": time_s[ends - 1],
        **{name: column for name, column in features.items()},
    })


def window_features(values: np.ndarray, starts: np.ndarray, window: int) -> dict[str, np.ndarray]:
    """The :data:`FEATURES` of the windows of ``values`` starting at ``starts`` (NaN-free input)."""
    center = float(np.median(values))
    scale = _robust_scale(values)
    z = (values - center) / scale
    views = sliding_window_view(z, window)[starts]
    mean, std = views.mean(axis=1), views.std(axis=1)
    before_mean, before_std = _neighbourhood(z, starts, window, before=True)
    after_mean, after_std = _neighbourhood(z, starts, window, before=False)
    around_std = np.maximum(np.minimum(before_std, after_std), 0.05)
    jumps = np.abs(np.diff(z))
    typical_jump = float(np.median(jumps)) + _EPS if jumps.size else 1.0
    jump_views = sliding_window_view(np.append(jumps, 0.0), window)[starts][:, :-1] if window > 1 else \
        np.zeros((starts.size, 1))
    x = np.arange(window) - (window - 1) / 2
    slope = views @ x / float((x ** 2).sum() or 1.0)
    centred = views - mean[:, None]
    kurtosis = (centred ** 4).mean(axis=1) / ((std ** 4) + _EPS)
    long_dev, long_shift = _long_context(z, starts, window)
    rarity = _rarity(np.abs(views - np.median(z)).max(axis=1))
    nearest = np.where(np.abs(mean - before_mean) < np.abs(mean - after_mean), before_mean, after_mean)
    return {
        "f_mean_z": mean, "f_std_z": std, "f_min_z": views.min(axis=1), "f_max_z": views.max(axis=1),
        "f_range_z": views.max(axis=1) - views.min(axis=1),
        "f_shift_before": (mean - before_mean) / np.maximum(before_std, 0.05),
        "f_shift_after": (mean - after_mean) / np.maximum(after_std, 0.05),
        "f_peak_dev": np.abs(views - nearest[:, None]).max(axis=1) / around_std,
        "f_std_ratio": np.log((std + 0.01) / (around_std + 0.01)),
        "f_jump": np.log1p(jump_views.max(axis=1) / typical_jump),
        "f_slope": slope * window,
        "f_kurtosis": np.log1p(kurtosis),
        "f_long_dev": long_dev, "f_long_shift": long_shift, "f_rarity": rarity,
    }


def covering_max(n: int, starts: np.ndarray, ends: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Per sample, the highest score of the windows covering it (0 where none does)."""
    result = np.zeros(n, dtype=np.float64)
    for start, end, score in zip(starts.tolist(), ends.tolist(), scores.tolist()):
        np.maximum(result[start:end], score, out=result[start:end])
    return result


def _neighbourhood(z: np.ndarray, starts: np.ndarray, window: int, *, before: bool) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of the ``CONTEXT_WINDOWS`` windows' worth of samples before (after) each."""
    n, span = z.size, CONTEXT_WINDOWS * window
    cumsum = np.concatenate([[0.0], np.cumsum(z)])
    cumsq = np.concatenate([[0.0], np.cumsum(z * z)])
    if before:
        lo, hi = np.maximum(starts - span, 0), starts
    else:
        lo, hi = np.minimum(starts + window, n), np.minimum(starts + window + span, n)
    count = hi - lo
    empty = count < 2
    count = np.where(empty, 1, count)
    mean = (cumsum[hi] - cumsum[lo]) / count
    var = np.maximum((cumsq[hi] - cumsq[lo]) / count - mean ** 2, 0.0)
    own = sliding_window_view(z, window)[starts]
    mean = np.where(empty, own.mean(axis=1), mean)
    std = np.where(empty, own.std(axis=1), np.sqrt(var))
    return mean, std


def _long_context(z: np.ndarray, starts: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Against the trailing ``LONG_CONTEXT_WINDOWS`` windows: the largest deviation of a sample of the
    window and the shift of its mean, both in standard deviations of that trailing stretch (a rolling z-score)."""
    span = LONG_CONTEXT_WINDOWS * window
    cumsum = np.concatenate([[0.0], np.cumsum(z)])
    cumsq = np.concatenate([[0.0], np.cumsum(z * z)])
    lo, hi = np.maximum(starts - span, 0), starts
    count = hi - lo
    short = count < window
    safe = np.where(short, 1, count)
    mean = (cumsum[hi] - cumsum[lo]) / safe
    std = np.sqrt(np.maximum((cumsq[hi] - cumsq[lo]) / safe - mean ** 2, 0.0))
    views = sliding_window_view(z, window)[starts]
    own_mean = views.mean(axis=1)
    mean = np.where(short, own_mean, mean)
    std = np.maximum(np.where(short, views.std(axis=1), std), 0.05)
    return np.abs(views - mean[:, None]).max(axis=1) / std, (own_mean - mean) / std


def _rarity(score: np.ndarray) -> np.ndarray:
    """Each window's rank (0–1) among the series' windows by ``score``: 1 for the most extreme."""
    if score.size < 2:
        return np.ones_like(score)
    return np.argsort(np.argsort(score, kind="stable"), kind="stable") / (score.size - 1)


def _robust_scale(values: np.ndarray) -> float:
    q75, q25 = np.percentile(values, [75, 25])
    scale = (q75 - q25) / 1.349
    if scale <= _EPS:
        scale = float(np.std(values))
    return scale if scale > _EPS else 1.0


def _bridged(values: np.ndarray) -> np.ndarray:
    finite = np.isfinite(values)
    if finite.all() or not finite.any():
        return np.where(finite, values, 0.0)
    index = np.arange(values.size)
    return np.interp(index, index[finite], values[finite])


def _empty() -> pl.DataFrame:
    schema = {"window_id": pl.String, "run_key": pl.String, "start_index": pl.Int64, "end_index": pl.Int64,
              "start_s": pl.Float64, "end_s": pl.Float64, **{name: pl.Float64 for name in FEATURES}}
    return pl.DataFrame(schema=schema)
