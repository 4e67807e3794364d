"""Deviation from the running level: ``|x - mean| / sd`` with an exponentially weighted mean and variance.

The value is scored against what was learned *before* it (score, then learn), so a spike scores high at
once; ``alpha`` sets the memory (about ``1 / alpha`` events). The variance is bias-corrected (it starts
at 0), so early events are not scored against a too narrow spread. Cheap and a good raw score for the
likelihood layer (:mod:`labflow.streams.likelihood`) on level-like signals.

Parameters
----------
alpha
    Weight of the newest value in the running mean and variance.

Examples
--------
>>> dev = Deviation(alpha=0.1)
>>> for v in [10.0, 10.5, 9.5] * 20:
...     dev.learn_one(v)
>>> dev.score_one(10.2) < 1.0 < 5.0 < dev.score_one(14.0)
True
"""

from __future__ import annotations

import math


class Deviation:
    """Exponentially weighted mean and variance of one value; the score is the distance in standard deviations."""

    def __init__(self, alpha: float = 0.005):
        self.alpha = alpha
        self.mean: float | None = None
        self.var = 0.0
        self.weight = 0.0  # 1 - (1 - alpha)^n: the share of the variance learned so far

    def score_one(self, x: float) -> float:
        """How many running standard deviations ``x`` is from the running mean (0 before anything was learned)."""
        if self.mean is None:
            return 0.0
        spread = math.sqrt(self.var / self.weight) if self.weight else 0.0
        return abs(x - self.mean) / (spread + 1e-9)

    def learn_one(self, x: float) -> None:
        if self.mean is None:
            self.mean = x
            return
        a, d = self.alpha, x - self.mean
        self.mean += a * d
        self.var = (1 - a) * (self.var + a * d * d)
        self.weight += a * (1 - self.weight)
