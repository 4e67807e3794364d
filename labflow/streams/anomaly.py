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
>>> values = [5.0 if i == 400 else 1.0 + (i % 3) * 0.1 for i in range(600)]
>>> scores, alarms = detector.update_many({"v": values})
>>> [alarm.row for alarm in alarms], alarms[0].by_field["v"] == alarms[0].score
([400], True)
>>> all(0.0 <= s < detector.threshold for s in scores[401:])
True
"""

from __future__ import annotations

from dataclasses import dataclass

from labflow.streams.ensemble import AnomalyEnsemble
from labflow.streams.likelihood import log_score
from labflow.streams.sources import AnomalySettings

_HELD = 0.9  # during the cool-down, scores are held at most at this share of the threshold


@dataclass(slots=True)
class Alarm:
    """An alarmed event: its row in the batch, its score, each field's score and running level before it."""

    row: int
    score: float
    by_field: dict[str, float]
    typical: dict[str, float]


class AnomalyDetector:
    """The ensemble, the alarm threshold, the warm-up and the cool-down of one source (picklable)."""

    def __init__(self, settings: AnomalySettings, features: tuple[str, ...]):
        self.ensemble = AnomalyEnsemble(features, settings)
        self.seen = 0
        self.configure(settings, settings.quantile)
        self.since_alarm = settings.cooldown

    def configure(self, settings: AnomalySettings, quantile: float) -> None:
        """New thresholds (from the source file or feedback) without forgetting what was learned."""
        self.settings, self.quantile = settings, quantile
        self.threshold = log_score(quantile)

    def update_many(self, columns: dict[str, list[float]]) -> tuple[list[float], list[Alarm]]:
        """Score a batch of events (one list per field), learn them; return the score written for each (in
        [0, 1]) and the alarms."""
        by_field, levels = self.ensemble.update_many(columns)
        names = list(by_field)
        written: list[float] = []
        alarms: list[Alarm] = []
        warmup, cooldown, threshold = self.settings.warmup, self.settings.cooldown, self.threshold
        held = _HELD * threshold
        for row, scores in enumerate(zip(*by_field.values())):
            score = max(scores)
            self.seen += 1
            self.since_alarm += 1
            if self.seen <= warmup:
                score = 0.0
            elif self.since_alarm <= cooldown:
                score = min(score, held)
            elif score >= threshold:
                self.since_alarm = 0
                alarms.append(Alarm(row, score, dict(zip(names, scores)),
                                    {name: levels[name][row] for name in names}))
            written.append(score)
        return written, alarms
