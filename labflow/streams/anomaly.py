"""Anomalies: the ensemble's score per event, alarmed above a likelihood threshold, one alarm per episode.

The ensemble (:mod:`labflow.streams.ensemble`) gives each event a score in [0, 1] on the log-likelihood
scale; an alarm is a score at or above ``threshold`` = ``log_score(quantile)`` (0.5 for a likelihood of
0.99999). Feedback moves ``quantile``. No alarm in the first ``warmup`` events: NAB's probationary period is
15 % of a file, but a stream's length is unknown online, so the warm-up is a count. After an alarm the
detector stays quiet for ``cooldown`` events, and the scores written for them are held below the threshold
(NAB rewards the earliest alarm of an anomaly window and counts every later alarm outside it as a false
positive: one finding, not twenty).

Parameters
----------
settings
    :class:`~labflow.streams.sources.AnomalySettings`.
features
    The fields scored.

Examples
--------
>>> from labflow.streams.sources import AnomalySettings
>>> detector = AnomalyDetector(AnomalySettings(warmup=100, cooldown=50), ("v",))
>>> found = [i for i in range(600) if detector.update({"v": 5.0 if i == 400 else 1.0 + (i % 3) * 0.1})[1]]
>>> found
[400]
>>> 0.0 <= detector.update({"v": 1.1})[0] < detector.threshold
True
"""

from __future__ import annotations

from labflow.streams.ensemble import AnomalyEnsemble
from labflow.streams.likelihood import log_score
from labflow.streams.sources import AnomalySettings

_HELD = 0.9  # during the cool-down, scores are held at most at this share of the threshold


class AnomalyDetector:
    """The ensemble, the alarm threshold, the warm-up and the cool-down of one source (picklable)."""

    def __init__(self, settings: AnomalySettings, features: tuple[str, ...]):
        self.ensemble = AnomalyEnsemble(features, settings)
        self.by_field: dict[str, float] = {}
        self.seen = 0
        self.configure(settings, settings.quantile)
        self.since_alarm = settings.cooldown

    def configure(self, settings: AnomalySettings, quantile: float) -> None:
        """New thresholds (from the source file or feedback) without forgetting what was learned."""
        self.settings, self.quantile = settings, quantile
        self.threshold = log_score(quantile)

    def update(self, x: dict[str, float]) -> tuple[float, bool]:
        """Score the event, learn it; return the score written for it (in [0, 1]) and whether it is an alarm."""
        score, self.by_field = self.ensemble.update(x)
        self.seen += 1
        self.since_alarm += 1
        if self.seen <= self.settings.warmup:
            return 0.0, False
        if self.since_alarm <= self.settings.cooldown:
            return min(score, _HELD * self.threshold), False
        if score < self.threshold:
            return score, False
        self.since_alarm = 0
        return score, True
