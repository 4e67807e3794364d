"""Nearest-neighbour context score: is the shape of the last ``dim`` values like any recent shape?

Each event closes a window of the last ``dim`` values. Its nonconformity is the summed L1 distance to its
``k`` nearest windows among the last ``size`` windows (a numpy ring buffer), in units of the value range
seen so far; windows overlapping the current one are not yet in the buffer (a window joins ``dim`` events
after it closed), so a window is never its own neighbour. The score is the conformal rank of that
nonconformity among the last ``calibration`` ones: the share of recent windows that were *more* typical,
in [0, 1]. Like KNN-CAD in NAB, but without the file's value range (unknown online).

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
>>> scores = [knn.update(math.sin(i / 3)) for i in range(400)]
>>> max(scores[300:]) < 1.0
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

import numpy as np


class WindowKNN:
    """Score-and-learn on each value; the state is a few numpy arrays (picklable)."""

    def __init__(self, dim: int = 10, size: int = 600, k: int = 5, calibration: int = 300):
        self.dim, self.k = dim, k
        self.recent = np.zeros(2 * dim)
        self.windows = np.zeros((size, dim))
        self.alphas = np.zeros(calibration)
        self.seen = self.stored = self.ranked = 0
        self.low, self.high = math.inf, -math.inf

    def update(self, x: float) -> float:
        """Add ``x``, return the conformal score of the window it closes (0 until there is enough history)."""
        self.low, self.high = min(self.low, x), max(self.high, x)
        recent, dim = self.recent, self.dim
        recent[:-1] = recent[1:]
        recent[-1] = x
        self.seen += 1
        if self.seen < 2 * dim:
            return 0.0
        size = len(self.windows)
        self.windows[self.stored % size] = recent[:dim]  # the window that ended dim events ago
        self.stored += 1
        filled = min(self.stored, size)
        if filled <= self.k:
            return 0.0
        distances = np.abs(self.windows[:filled] - recent[dim:]).sum(axis=1)
        alpha = float(np.partition(distances, self.k)[:self.k].sum()) / max(self.high - self.low, 1e-12)
        ranked = min(self.ranked, len(self.alphas))
        score = float(np.count_nonzero(self.alphas[:ranked] < alpha)) / ranked if ranked else 0.0
        self.alphas[self.ranked % len(self.alphas)] = alpha
        self.ranked += 1
        return score
