"""Smoothing and baseline removal of parsed series: the ``clean_series`` step.

A cleaned channel is the raw channel with its baseline removed (optional) and then a rolling mean.
Missing samples (null or NaN) never spread: every window averages only the samples it has.

>>> import numpy as np
>>> rolling_mean(np.array([1.0, 2.0, np.nan, 4.0]), 3)
array([1.5, 1.5, 3. , 4. ])
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import polars as pl
from scipy.ndimage import maximum_filter1d, minimum_filter1d

from labflow.processing.recipes import SmoothingParams

BaselineMethod = Literal["none", "linear", "rolling_min"]


def _clipped_bounds(offset: int, n: int) -> tuple[int, int]:
    """``[first, last)``: the samples ``i`` for which ``i + offset`` lies inside ``0..n``."""
    first = min(max(-offset, 0), n)
    return first, min(max(n - offset, first), n)


def _cumulative(values: np.ndarray, shift: float = 0.0, where: np.ndarray | None = None) -> np.ndarray:
    """``[0, v0, v0 + v1, ...]`` of ``values - shift``, counting only the ``where`` samples, in one buffer."""
    cumulative = np.zeros(values.size + 1)
    np.subtract(values, shift, out=cumulative[1:], where=True if where is None else where)
    np.cumsum(cumulative[1:], out=cumulative[1:])
    return cumulative


def _counts(finite: np.ndarray) -> np.ndarray:
    """``[0, f0, f0 + f1, ...]``: running count of finite samples."""
    cumulative = np.zeros(finite.size + 1, dtype=np.int32)
    np.cumsum(finite, dtype=np.int32, out=cumulative[1:])
    return cumulative


def _window_sums(cumulative: np.ndarray, window: int, after: int) -> np.ndarray:
    """Sum over ``[i - (window - 1 - after), i + after]`` (clipped to the series) for every ``i``.

    ``cumulative[hi] - cumulative[lo]`` written with slices rather than gathers.
    """
    n = cumulative.size - 1
    sums = np.empty(n, dtype=cumulative.dtype)
    high = after + 1
    first, last = _clipped_bounds(high, n)
    sums[:first] = 0
    sums[first:last] = cumulative[first + high:last + high]
    sums[last:] = cumulative[n]
    low = after + 1 - window
    first, last = _clipped_bounds(low, n)
    sums[first:last] -= cumulative[first + low:last + low]
    sums[last:] -= cumulative[n]
    return sums


def _edge_indices(n: int, window: int, after: int) -> np.ndarray:
    """Samples whose window is cut by the start or the end of the series."""
    before = window - 1 - after
    return np.unique(np.concatenate([np.arange(min(before, n)), np.arange(max(n - after, 0), n)]))


def _divide_by_counts(sums: np.ndarray, window: int, after: int) -> np.ndarray:
    """Window sums to means when no sample is missing: full windows hold ``window`` samples."""
    n = sums.size
    sums /= window
    edges = _edge_indices(n, window, after)
    counts = np.minimum(edges + after + 1, n) - np.maximum(edges + after + 1 - window, 0)
    sums[edges] *= window / counts
    return sums


def rolling_mean(values: np.ndarray, window: int, centered: bool = True) -> np.ndarray:
    """Rolling mean in O(n) from cumulative sums, skipping missing samples.

    Matches ``pandas.Series.rolling(window, min_periods=1, center=centered).mean()``:

    - trailing (``centered=False``): the window of sample ``i`` is ``[i - window + 1, i]``;
    - centred: ``window // 2`` samples before ``i`` and ``(window - 1) // 2`` after, so an even window
      takes its extra sample from the past (left), as pandas does;
    - at the edges a window averages the samples that exist;
    - NaN and ±inf are skipped; a window with no finite sample gives NaN.

    The series is shifted by its mean before summing, so long series keep full precision.
    """
    if window < 1:
        raise ValueError(f"rolling-mean window must be at least 1 sample, got {window}")
    data = np.asarray(values, dtype=np.float64)
    after = (window - 1) // 2 if centered else 0
    if data.size and window > 1 and np.isfinite(np.add.reduce(data)):
        return _complete_rolling_mean(data, window, after)
    return _gappy_rolling_mean(data, window, after)


def _complete_rolling_mean(data: np.ndarray, window: int, after: int) -> np.ndarray:
    """Rolling mean of a series without missing samples: full windows hold ``window`` samples."""
    reference = _typical_value(data)
    means = _divide_by_counts(_window_sums(_cumulative(data, reference), window, after), window, after)
    means += reference
    return means


def _gappy_rolling_mean(data: np.ndarray, window: int, after: int) -> np.ndarray:
    """Rolling mean that counts, per window, the finite samples it averages."""
    finite = np.isfinite(data)
    if not finite.any():
        return np.full(data.size, np.nan)
    if window == 1:
        return np.where(finite, data, np.nan)
    reference = _typical_value(data)
    counts = _window_sums(_counts(finite), window, after)
    means = _window_sums(_cumulative(data, reference, where=finite), window, after)
    with np.errstate(invalid="ignore", divide="ignore"):
        means /= counts
    means += reference
    means[counts == 0] = np.nan
    return means


def _typical_value(data: np.ndarray) -> float:
    """Mean of about 10,000 evenly spaced finite samples: the shift that keeps cumulative sums small."""
    sample = data[:: max(1, data.size // 10_000)]
    sample = sample[np.isfinite(sample)]
    return float(sample.mean()) if sample.size else float(np.nanmean(data))


def _fill_gaps(values: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Missing samples replaced by linear interpolation between their finite neighbours."""
    finite = np.isfinite(values)
    if finite.all() or not finite.any():
        return values
    return np.interp(x, x[finite], values[finite])


def linear_baseline(values: np.ndarray, x: np.ndarray | None = None) -> np.ndarray:
    """Least-squares straight line through the finite samples, evaluated at every sample."""
    data = np.asarray(values, dtype=np.float64)
    x = np.arange(data.size, dtype=np.float64) if x is None else np.asarray(x, dtype=np.float64)
    finite = np.isfinite(data) & np.isfinite(x)
    if finite.sum() < 2:
        return np.full(data.size, float(data[finite].mean()) if finite.any() else np.nan)
    xs, ys = x[finite], data[finite]
    x_mean, y_mean = xs.mean(), ys.mean()
    spread = float(((xs - x_mean) ** 2).sum())
    slope = float(((xs - x_mean) * (ys - y_mean)).sum()) / spread if spread > 0 else 0.0
    return y_mean + slope * (x - x_mean)


def rolling_min_baseline(values: np.ndarray, window: int) -> np.ndarray:
    """Lower envelope: rolling minimum then maximum (a morphological opening), smoothed by a rolling mean.

    Peaks narrower than ``window`` are cut off; drifts slower than it are followed (a straight line is
    reproduced exactly). Missing samples are interpolated for the estimate only.
    """
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0 or not np.isfinite(data).any():
        return np.full(data.size, np.nan)
    filled = _fill_gaps(data, np.arange(data.size, dtype=np.float64))
    size = max(1, min(int(window), data.size))
    opened = maximum_filter1d(minimum_filter1d(filled, size, mode="nearest"), size, mode="nearest")
    return rolling_mean(opened, size, centered=True)


def remove_baseline(
    values: np.ndarray, method: BaselineMethod, window: int, *, x: np.ndarray | None = None
) -> np.ndarray:
    """The signal minus its baseline: ``"none"``, ``"linear"`` (least-squares line) or ``"rolling_min"``.

    ``x`` (e.g. ``time_s``) is the abscissa of the linear fit; the sample index when omitted.
    Missing samples stay missing.
    """
    data = np.asarray(values, dtype=np.float64)
    if method == "none":
        return data.copy()
    if method == "linear":
        return data - linear_baseline(data, x)
    if method == "rolling_min":
        return data - rolling_min_baseline(data, window)
    raise ValueError(f"unknown baseline method {method!r}; use 'none', 'linear' or 'rolling_min'")


def clean_channel(values: np.ndarray, params: SmoothingParams, *, x: np.ndarray | None = None) -> np.ndarray:
    """One channel cleaned: baseline removed, then the rolling mean."""
    if params.baseline != "none":
        values = remove_baseline(values, params.baseline, params.baseline_window, x=x)
    return rolling_mean(values, params.window, centered=params.centered)


def _to_series(name: str, values: np.ndarray) -> pl.Series:
    """A Float64 column with missing samples as nulls (no copy when nothing is missing)."""
    return pl.Series(name, values, dtype=pl.Float64, nan_to_null=bool(np.isnan(values).any()))


def clean_series(frame: pl.DataFrame, channels: list[str], params: SmoothingParams) -> pl.DataFrame:
    """``time_s``, ``timestamp`` (if present) and, per channel, the raw ``<ch>`` beside ``<ch>_clean``.

    Raw columns are unchanged; a cleaned sample whose whole window was missing is null.
    """
    missing = [c for c in ["time_s", *channels] if c not in frame.columns]
    if missing:
        raise ValueError(f"clean_series: column(s) {', '.join(missing)} not in the series; "
                         f"it has {', '.join(frame.columns)}")
    time_s = frame["time_s"].cast(pl.Float64).to_numpy()
    x = time_s if params.baseline == "linear" else None
    columns: list[pl.Series] = [frame["time_s"]]
    if "timestamp" in frame.columns:
        columns.append(frame["timestamp"])
    for channel in channels:
        raw = frame[channel]
        cleaned = clean_channel(raw.cast(pl.Float64).to_numpy(), params, x=x)
        columns += [raw, _to_series(f"{channel}_clean", cleaned)]
    return pl.DataFrame(columns)
