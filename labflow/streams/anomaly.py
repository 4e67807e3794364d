"""Anomalies: HalfSpaceTrees on MinMax-scaled fields, alarmed against an adaptive threshold.

The threshold is a running quantile of the recent scores (never below ``min_score``), so a noisy
stream raises its own bar; feedback moves the quantile. After an alarm the detector stays quiet for
``cooldown`` events (one spike is one finding, not twenty).

>>> from labflow.streams.sources import AnomalySettings
>>> detector = AnomalyDetector(AnomalySettings(warmup=10))
>>> score = detector.score_learn({"v": 0.5})
>>> 0.0 <= score <= 1.0
True

Reference: Tan, Ting & Liu (2011), *Fast anomaly detection for streaming data*, IJCAI.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
from river import anomaly, preprocessing

from labflow.streams.sources import AnomalySettings

_RECOMPUTE_EVERY = 25


class SquashedScaler:
    """Each value as ``1 / (1 + exp(-z / width))`` with ``z`` from an exponentially weighted mean and variance:
    in [0, 1] like a MinMax scale, but a spike lands near 0 or 1 however far it is, and old extremes do not
    squeeze the scale."""

    def __init__(self, alpha: float = 0.01, width: float = 3.0):
        self.alpha, self.width = alpha, width
        self.mean: dict[str, float] = {}
        self.var: dict[str, float] = {}

    def learn_one(self, x: dict[str, float]) -> None:
        a = self.alpha
        for name, value in x.items():
            mean = self.mean.get(name)
            if mean is None:
                self.mean[name], self.var[name] = value, 0.0
                continue
            d = value - mean
            self.mean[name] = mean + a * d
            self.var[name] = (1 - a) * (self.var[name] + a * d * d)

    def transform_one(self, x: dict[str, float]) -> dict[str, float]:
        out = {}
        for name, value in x.items():
            mean = self.mean.get(name, value)
            sd = math.sqrt(self.var.get(name, 0.0)) or 1.0
            z = max(min((value - mean) / (sd * self.width), 50.0), -50.0)
            out[name] = 1.0 / (1.0 + math.exp(-z))
        return out


def make_scaler(settings: AnomalySettings) -> preprocessing.MinMaxScaler | SquashedScaler:
    """The scaler in front of the trees: ``minmax`` (river) or ``squashed`` (see :class:`SquashedScaler`)."""
    return SquashedScaler() if settings.scaling == "squashed" else preprocessing.MinMaxScaler()


class AnomalyDetector:
    """Score-then-learn on every event; :meth:`alarm` says whether the latest score is an anomaly."""

    def __init__(self, settings: AnomalySettings, features: tuple[str, ...] = ()):
        self.settings = settings
        self.quantile = settings.quantile
        span = (-settings.headroom, 1.0 + settings.headroom)
        self.model = anomaly.HalfSpaceTrees(n_trees=settings.n_trees, height=settings.height,
                                            window_size=settings.window_size, seed=settings.seed,
                                            limits={name: span for name in features} or None)
        self.scores: deque[float] = deque(maxlen=settings.history)
        self.threshold = 1.0
        self.seen = 0
        self.since_alarm = settings.cooldown

    def configure(self, settings: AnomalySettings, quantile: float) -> None:
        """New thresholds (from the source file or feedback) without forgetting what was learned."""
        self.settings, self.quantile = settings, quantile
        self._recompute()

    def score_learn(self, scaled: dict[str, float]) -> float:
        """Score the event (0 = normal, 1 = isolated at once), then learn from it."""
        score = self.model.score_one(scaled)
        self.model.learn_one(scaled)
        self.seen += 1
        self.since_alarm += 1
        self.scores.append(score)
        if self.seen % _RECOMPUTE_EVERY == 0:
            self._recompute()
        return score

    def alarm(self, score: float) -> bool:
        """Whether ``score`` is above the adaptive threshold, after warm-up (at least one window of trees)
        and outside the cool-down of the last alarm."""
        if self.seen < max(self.settings.warmup, self.settings.window_size) or score < self.threshold:
            return False
        if self.since_alarm < self.settings.cooldown:
            return False
        self.since_alarm = 0
        return True

    def _recompute(self) -> None:
        if self.scores:
            self.threshold = max(float(np.quantile(np.fromiter(self.scores, float), self.quantile)),
                                 self.settings.min_score)
