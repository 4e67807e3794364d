"""Nearest-neighbour context score: is the shape of the last ``dim`` values like any recent shape?

Each event closes a window of the last ``dim`` values. Its score (nonconformity) is the summed Euclidean
distance to its ``k`` nearest windows among the last ``size`` windows, in units of the value range seen so
far (0 = a shape seen before; unbounded); a window joins the searched ones ``dim`` events after it closed,
so a window is never compared with itself or an overlapping one. KNN-CAD's nonconformity, without the
file's value range (unknown online); its calibration is left to the likelihood layer
(:mod:`labflow.streams.likelihood`). A batch is scored at once with numpy (:meth:`WindowKNN.update_many`),
the same as one event at a time up to float rounding.

Parameters
----------
dim
    Values per window (the context).
size
    How many past windows are searched.
k
    Neighbours per distance.

Examples
--------
>>> import math
>>> knn = WindowKNN(dim=4, size=200, k=3)
>>> scores = knn.update_many([math.sin(i / 3) for i in range(400)])
>>> float(scores[300:].max()) < 0.2
True
>>> knn.update(5.0) > 1.0
True

References
----------
Burnaev & Ishimtsev (2016), *Conformalized density- and distance-based anomaly detection in time-series
data*, arXiv:1608.04585.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

_CHUNK = 256  # queries per block of distances (size x CHUNK floats)


class WindowKNN:
    """Score-and-learn on values, one or a batch at a time; the state is a few numpy arrays (picklable)."""

    def __init__(self, dim: int = 10, size: int = 600, k: int = 5):
        self.dim, self.size, self.k = dim, size, k
        self.tail = np.zeros(0)  # the last size + 2 dim values
        self.seen = 0
        self.low, self.high = math.inf, -math.inf

    def update(self, x: float) -> float:
        """Add ``x``, return the score of the window it closes (0 until there are more than ``k`` windows)."""
        return float(self.update_many([x])[0])

    def update_many(self, values: Sequence[float] | np.ndarray) -> np.ndarray:
        """Add ``values`` in order; return each one's score as if they had come one at a time."""
        values = np.asarray(values, dtype=float)
        n, dim, size, k = len(values), self.dim, self.size, self.k
        scores = np.zeros(n)
        if n == 0:
            return scores
        start = self.seen  # global index of values[0]
        series = np.concatenate([self.tail, values])
        offset = start - len(self.tail)  # global index of series[0]
        highs = np.maximum.accumulate(np.r_[self.high, values])[1:]
        lows = np.minimum.accumulate(np.r_[self.low, values])[1:]
        # a query window ending at g (g >= 2 dim - 1) is compared with the windows ending at g - lag for
        # lag in [dim, dim + size - 1] that exist (ending at dim - 1 or later); it needs more than k of them.
        # Along a lag, the squared distance is a sliding sum of (v[t] - v[t - lag])^2: O(size) per query.
        first = max(start, 2 * dim - 1 + k)
        lags = np.arange(dim, dim + size)
        sums = np.full(n, np.nan)
        for g0 in range(first, start + n, _CHUNK):
            g1 = min(g0 + _CHUNK, start + n)
            at = np.arange(g0 - dim + 1, g1) - offset
            diff = series[at][:, None] - series[np.maximum(at[:, None] - lags, 0)]
            running = np.zeros((len(at) + 1, size))
            np.cumsum(diff * diff, axis=0, out=running[1:])
            squared = running[dim:] - running[:-dim]  # one row per query, one column per lag
            squared[lags[None, :] > np.arange(g0, g1)[:, None] - dim + 1] = np.inf  # before the first window
            nearest = np.partition(squared, k - 1, axis=1)[:, :k]
            sums[g0 - start:g1 - start] = np.sqrt(np.maximum(nearest, 0.0)).sum(axis=1)
        valid = ~np.isnan(sums)
        scores[valid] = sums[valid] / np.maximum(highs[valid] - lows[valid], 1e-12)
        self.tail = series[-(size + 2 * dim):]
        self.seen = start + n
        self.low, self.high = float(lows[-1]), float(highs[-1])
        return scores
