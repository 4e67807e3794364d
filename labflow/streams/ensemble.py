"""The anomaly ensemble: per field, two raw scores through their own likelihood layer, and a range break.

For each field: a :class:`~labflow.streams.deviation.Deviation` (how far from the running level) and a
:class:`~labflow.streams.knn.WindowKNN` (how unlike the recent shapes the last few values are); the log of
each raw score (their distributions are skewed; the log makes the Gaussian tail of the likelihood fit) goes
through its own :class:`~labflow.streams.likelihood.AnomalyLikelihood`, the higher likelihood is put on the
log scale of :func:`~labflow.streams.likelihood.log_score`. A :class:`~labflow.streams.range_break.RangeBreak`
that is also at least ``range_min_sd`` running standard deviations out scores at least ``range_score``.
A field's score is the highest of these, the event's the highest over fields. One pass, score before learn,
no look-ahead.

Parameters
----------
fields
    The fields scored (one set of detectors each).
settings
    :class:`~labflow.streams.sources.AnomalySettings` (``history``, ``short``, ``alpha``, ``knn_*``,
    ``range_margin``, ``range_min_sd``, ``range_score``).

Examples
--------
>>> from labflow.streams.sources import AnomalySettings

_DEVIATION_FLOOR, _CONTEXT_FLOOR = 0.1, 1e-3  # log(raw + floor): a flat stretch does not become -inf
>>> ensemble = AnomalyEnsemble(("v",), AnomalySettings())
>>> calm = [ensemble.update({"v": 10.0 + (i % 5) * 0.1})[0] for i in range(1000)]
>>> max(calm[500:]) < 0.5
True
>>> score, by_field = ensemble.update({"v": 30.0})
>>> score >= 0.5 and by_field["v"] == score
True
"""

from __future__ import annotations

import math

from labflow.streams.deviation import Deviation
from labflow.streams.knn import WindowKNN
from labflow.streams.likelihood import AnomalyLikelihood, log_score
from labflow.streams.range_break import RangeBreak
from labflow.streams.sources import AnomalySettings

_DEVIATION_FLOOR, _CONTEXT_FLOOR = 0.1, 1e-3  # log(raw + floor): a flat stretch does not become -inf


class FieldDetectors:
    """The detectors of one field and what they learned."""

    def __init__(self, settings: AnomalySettings):
        s = settings
        self.deviation = Deviation(s.alpha)
        self.context = WindowKNN(s.knn_dim, s.knn_size, s.knn_k)
        self.deviation_likelihood = AnomalyLikelihood(s.history, s.short)
        self.context_likelihood = AnomalyLikelihood(s.history, s.short)
        self.range = RangeBreak(s.range_margin)
        self.range_score, self.range_min_sd = s.range_score, s.range_min_sd

    def update_many(self, values: list[float]) -> tuple[list[float], list[float]]:
        """Each value's score in [0, 1] and the running level before it, learning them in order."""
        deviation, range_break = self.deviation, self.range
        of_deviation, of_context = self.deviation_likelihood.update, self.context_likelihood.update
        scores, levels = [], []
        for x, context in zip(values, self.context.update_many(values).tolist()):
            levels.append(x if deviation.mean is None else deviation.mean)
            raw = deviation.score_one(x)
            deviation.learn_one(x)
            likelihood = max(of_deviation(math.log(raw + _DEVIATION_FLOOR)),
                             of_context(math.log(context + _CONTEXT_FLOOR)))
            score = log_score(likelihood)
            broke = range_break.update(x) and raw >= self.range_min_sd
            scores.append(max(score, self.range_score) if broke else score)
        return scores, levels


class AnomalyEnsemble:
    """One :class:`FieldDetectors` per field; the event's score is the highest field score (picklable)."""

    def __init__(self, fields: tuple[str, ...], settings: AnomalySettings):
        self.fields = {name: FieldDetectors(settings) for name in fields}

    def update_many(self, columns: dict[str, list[float]]) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
        """Per field, the score of each event in [0, 1] and the running level before it; the events are learned."""
        scores, levels = {}, {}
        for name, detectors in self.fields.items():
            scores[name], levels[name] = detectors.update_many(columns[name])
        return scores, levels

    def update(self, x: dict[str, float]) -> tuple[float, dict[str, float]]:
        """One event's score (the highest field score) and each field's, then learn the event."""
        scores, _ = self.update_many({name: [value] for name, value in x.items()})
        by_field = {name: column[0] for name, column in scores.items()}
        return max(by_field.values(), default=0.0), by_field
