"""Anomaly likelihood: how unusual the recent raw scores are, given the running distribution of raw scores.

A raw score (a deviation, a neighbour distance, ...) means little on its own: a noisy stream scores high all
the time. The likelihood layer keeps the last ``history`` raw scores (a ring buffer; their mean and standard
deviation refreshed every ``every`` events) and the mean of the last ``short`` ones, and returns the Gaussian
probability that the short mean is *not* above the usual level: 0.5 is usual, 0.99999 is far out in the tail.
:func:`log_score` maps it to [0, 1] on a log scale (0.5 at a likelihood of 0.99999, 1 at 1).
This is the anomaly-likelihood step of Numenta's HTM detector in NAB.

Parameters
----------
history
    How many recent raw scores make the reference distribution.
short
    How many of the latest raw scores are averaged before they are compared with it.
every
    Refresh the reference mean and standard deviation every this many events (and at each of the first 50).

Examples
--------
>>> lik = AnomalyLikelihood(history=100, short=3)
>>> for i in range(200):
...     _ = lik.update(0.1 + 0.01 * (i % 7))
>>> round(lik.update(0.13), 2) < 0.9
True
>>> for _ in range(3):
...     spike = lik.update(5.0)
>>> spike > 0.99999 and log_score(spike) > 0.5
True

References
----------
Ahmad, Lavin, Purdy & Agha (2017), *Unsupervised real-time anomaly detection for streaming data*,
Neurocomputing 262.
"""

from __future__ import annotations

import math

import numpy as np

_SQRT2 = math.sqrt(2.0)
_LOG_FLOOR = math.log(1e-10)


def log_score(likelihood: float) -> float:
    """``likelihood`` in [0, 1] on a log scale in [0, 1]: 0.5 at 0.99999, 0.8 at 1 - 1e-8, 1 at 1."""
    return min(max(math.log(1.0000000001 - likelihood) / _LOG_FLOOR, 0.0), 1.0)


class AnomalyLikelihood:
    """The running distribution of recent raw scores and the tail probability of the latest ones (picklable)."""

    def __init__(self, history: int = 500, short: int = 5, every: int = 20):
        self.history = np.zeros(history)
        self.recent = np.zeros(short)
        self.every = every
        self.seen = 0
        self.mean, self.sd = 0.0, 1.0
        self._recent_sum = 0.0

    def update(self, raw: float) -> float:
        """Add ``raw`` to the history and return the likelihood that the latest scores are anomalous."""
        n = self.seen
        slot = n % len(self.recent)
        self._recent_sum += raw - self.recent[slot]
        self.recent[slot] = raw
        self.history[n % len(self.history)] = raw
        self.seen = n = n + 1
        if n % self.every == 0 or n <= 50:
            past = self.history[:min(n, len(self.history))]
            self.mean, self.sd = float(past.mean()), max(float(past.std()), 1e-4)
            self._recent_sum = float(self.recent.sum())  # no float error piles up in the running sum
        short = self._recent_sum / min(n, len(self.recent))
        return 0.5 * math.erfc(-(short - self.mean) / (self.sd * _SQRT2))
