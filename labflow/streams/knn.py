"""Nearest-neighbour context score: is the shape of the last ``dim`` values like any recent shape?

Each event closes a window of the last ``dim`` values. Its nonconformity is the summed Euclidean distance to its
``k`` nearest windows among the last ``size`` windows, in units of the value range seen so far; a window
joins the searched ones ``dim`` events after it closed, so a window is never compared with itself or an
overlapping one. The score is the conformal rank of that nonconformity among the last ``calibration`` ones:
the share of recent windows that were *more* typical, in [0, 1]. Like KNN-CAD in NAB, but without the
file's value range (unknown online). A batch is scored at once with numpy (:meth:`WindowKNN.update_many`),
with exactly the results of one event at a time.

Parameters
----------
dim
    Values per window (the context).
size
    How many past windows are searched.
k
    Neighbours per distance.
calibration
    How many recent nonconformities rank the new one.

Examples
--------
>>> import math
>>> knn = WindowKNN(dim=4, size=200, k=3, calibration=100)
>>> scores = knn.update_many([math.sin(i / 3) for i in range(400)])
>>> float(scores[300:].max()) < 1.0
True
>>> knn.update(5.0)
1.0

References
----------
Burnaev & Ishimtsev (2016), *Conformalized density- and distance-based anomaly detection in time-series
data*, arXiv:1608.04585.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

_CHUNK = 256  # queries per block of distances (size x CHUNK floats)


class WindowKNN:
    """Score-and-learn on values, one or a batch at a time; the state is a few numpy arrays (picklable)."""

    def __init__(self, dim: int = 10, size: int = 600, k: int = 5, calibration: int = 300):
        self.dim, self.size, self.k, self.calibration = dim, size, k, calibration
        self.tail = np.zeros(0)  # the last size + 2 dim values
        self.alphas = np.zeros(0)  # the last `calibration` nonconformities, oldest first
        self.seen = 0
        self.low, self.high = math.inf, -math.inf

    def update(self, x: float) -> float:
        """Add ``x``, return the score of the window it closes (0 until there is enough history)."""
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
        new = sums[valid] / np.maximum(highs[valid] - lows[valid], 1e-12)
        if len(new):
            history = np.concatenate([np.full(self.calibration, np.inf), self.alphas, new])
            behind = sliding_window_view(history[:-1], self.calibration)[-len(new):]
            ranked = np.minimum(np.arange(len(self.alphas), len(self.alphas) + len(new)), self.calibration)
            below = np.count_nonzero(behind < new[:, None], axis=1)
            scores[valid] = np.where(ranked > 0, below / np.maximum(ranked, 1), 0.0)
            self.alphas = history[-self.calibration:][np.isfinite(history[-self.calibration:])]
        self.tail = series[-(size + 2 * dim):]
        self.seen = start + n
        self.low, self.high = float(lows[-1]), float(highs[-1])
        return scores
