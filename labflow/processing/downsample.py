"""Fewer points that still look like the series: min/max buckets and LTTB, over a time window.

Charts of millions of samples are drawn from a few thousand points chosen here, on the server; a
zoom asks again for the visible window only, so detail comes back as you zoom in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
import polars as pl

Method = Literal["minmax", "lttb"]
METHODS: tuple[str, ...] = ("minmax", "lttb")


def _bucket_extremes(values: np.ndarray, size: int, pick: Callable[..., np.ndarray]) -> np.ndarray:
    """Index picked by ``np.argmin``/``np.argmax`` in each run of ``size`` samples (the last may be shorter)."""
    full = values.size // size
    body = pick(values[: full * size].reshape(full, size), axis=1) + np.arange(full) * size
    if full * size == values.size:
        return body
    return np.append(body, full * size + pick(values[full * size:]))


def downsample_minmax(x: np.ndarray, y: np.ndarray, n_buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``2 * n_buckets`` points: the minimum and maximum of each run of consecutive samples, in order.

    Missing values (NaN) are skipped inside a bucket; a bucket with no value gives one NaN point, so a
    drawn line still breaks at a gap. Series already short enough are returned unchanged.
    """
    if n_buckets < 1:
        raise ValueError(f"n_buckets must be at least 1, got {n_buckets}")
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if y.size <= 2 * n_buckets:
        return x, y
    size = -(-y.size // n_buckets)
    finite = np.isfinite(y)
    everything = bool(finite.all())
    low = y if everything else np.where(finite, y, np.inf)
    high = y if everything else np.where(finite, y, -np.inf)
    lows, highs = _bucket_extremes(low, size, np.argmin), _bucket_extremes(high, size, np.argmax)
    index = np.unique(np.concatenate([lows, highs]))
    return x[index], y[index]


def downsample_lttb(x: np.ndarray, y: np.ndarray, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """Largest-Triangle-Three-Buckets (Steinarsson 2013): ``n_out`` points that keep the visual shape.

    The first and last points are kept; from each of the ``n_out - 2`` middle buckets the point
    forming the largest triangle with the previously kept point and the next bucket's mean is kept.
    NaN values are dropped first. Series already short enough are returned unchanged.
    """
    if n_out < 3:
        raise ValueError(f"LTTB needs at least 3 output points, got {n_out}")
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    finite = np.isfinite(y)
    if not finite.all():
        x, y = x[finite], y[finite]
    if y.size <= n_out:
        return x, y
    edges = np.linspace(1, y.size - 1, n_out - 1).astype(np.int64)
    keep = np.empty(n_out, dtype=np.int64)
    keep[0], keep[-1] = 0, y.size - 1
    # Mean of each bucket (the "next bucket" point); the last one is the final sample.
    sums_x, sums_y = np.add.reduceat(x[1:-1], edges[:-1] - 1), np.add.reduceat(y[1:-1], edges[:-1] - 1)
    counts = np.diff(edges)
    mean_x = np.append(sums_x / counts, x[-1])
    mean_y = np.append(sums_y / counts, y[-1])
    previous = 0
    for bucket in range(n_out - 2):
        lo, hi = edges[bucket], edges[bucket + 1]
        ax, ay = x[previous], y[previous]
        area = np.abs((ax - mean_x[bucket + 1]) * (y[lo:hi] - ay) - (ax - x[lo:hi]) * (mean_y[bucket + 1] - ay))
        previous = lo + int(np.argmax(area))
        keep[bucket + 1] = previous
    return x[keep], y[keep]


def downsample_frame(frame: pl.DataFrame, columns: Sequence[str], n_points: int, *, method: Method = "minmax",
                     time_column: str = "time_s", start: float | None = None,
                     end: float | None = None) -> pl.DataFrame:
    """Long-format ``(time_s, channel, value)`` rows for plotting ``columns`` of ``frame``.

    Only samples with ``start <= time <= end`` are used (the visible window of a zoomed chart);
    each channel is reduced to about ``n_points`` points by ``method`` (min/max keeps every spike,
    LTTB keeps the shape).
    """
    if method not in METHODS:
        raise ValueError(f"unknown downsampling method {method!r}; use {' or '.join(METHODS)}")
    missing = [c for c in [time_column, *columns] if c not in frame.columns]
    if missing:
        raise KeyError(f"no column(s) {', '.join(missing)}; the series has {', '.join(frame.columns)}")
    window = frame
    if start is not None:
        window = window.filter(pl.col(time_column) >= start)
    if end is not None:
        window = window.filter(pl.col(time_column) <= end)
    x = window[time_column].cast(pl.Float64).to_numpy()
    parts = []
    for column in columns:
        y = window[column].cast(pl.Float64).to_numpy()
        if method == "lttb" and n_points >= 3:
            dx, dy = downsample_lttb(x, y, n_points)
        else:
            dx, dy = downsample_minmax(x, y, max(1, n_points // 2))
        parts.append(pl.DataFrame({"time_s": dx, "channel": [column] * dx.size, "value": dy},
                                  schema={"time_s": pl.Float64, "channel": pl.String, "value": pl.Float64}))
    if not parts:
        return pl.DataFrame(schema={"time_s": pl.Float64, "channel": pl.String, "value": pl.Float64})
    return pl.concat(parts)
