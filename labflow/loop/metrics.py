"""Precision, recall and F1 of proposed anomaly intervals against confirmed ones, at two levels.

- **Event level** (NAB-style windows): a confirmed interval counts as found when a proposed interval
  overlaps it; a proposed interval overlapping no confirmed one is a false alarm.
- **Point level**: each sample of the series is anomalous or not, by lying inside an interval.

With nothing to find, recall is 1; with nothing proposed, precision is 1 only if there was nothing to find.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

Intervals = Sequence[tuple[float, float]]


def f1(precision: float, recall: float) -> float:
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def event_counts(predicted: Intervals, truth: Intervals) -> tuple[int, int, int, int]:
    """(proposals hitting a confirmed interval, proposals, confirmed intervals found, confirmed intervals)."""
    hits = sum(1 for p in predicted if any(_overlaps(p, t) for t in truth))
    found = sum(1 for t in truth if any(_overlaps(p, t) for p in predicted))
    return hits, len(predicted), found, len(truth)


def point_counts(time_s: np.ndarray, predicted: Intervals, truth: Intervals) -> tuple[int, int, int]:
    """(true positives, predicted anomalous samples, truly anomalous samples)."""
    guess, real = _inside(time_s, predicted), _inside(time_s, truth)
    return int((guess & real).sum()), int(guess.sum()), int(real.sum())


def evaluate(predicted: Mapping[str, Intervals], truth: Mapping[str, Intervals],
             times: Mapping[str, np.ndarray] | None = None) -> dict[str, float | int]:
    """Event- (and, given each run's sample ``times``, point-) level precision, recall and F1 over the
    runs of ``truth`` (the held-out labelled set)."""
    hits = proposed = found = events = 0
    tp = guessed = real = 0
    for run_key, spans in truth.items():
        guess = predicted.get(run_key, [])
        h, p, f, e = event_counts(guess, spans)
        hits, proposed, found, events = hits + h, proposed + p, found + f, events + e
        if times is not None and run_key in times:
            t, g, r = point_counts(times[run_key], guess, spans)
            tp, guessed, real = tp + t, guessed + g, real + r
    precision = hits / proposed if proposed else (1.0 if events == 0 else 0.0)
    recall = found / events if events else 1.0
    result: dict[str, float | int] = {"event_precision": precision, "event_recall": recall,
                                      "event_f1": f1(precision, recall), "events": events, "proposed": proposed,
                                      "runs": len(truth)}
    if times is not None:
        p_precision = tp / guessed if guessed else (1.0 if real == 0 else 0.0)
        p_recall = tp / real if real else 1.0
        result.update(point_precision=p_precision, point_recall=p_recall, point_f1=f1(p_precision, p_recall))
    return result


def _overlaps(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def _inside(time_s: np.ndarray, spans: Intervals) -> np.ndarray:
    mask = np.zeros(time_s.size, dtype=bool)
    for start, end in spans:
        mask |= (time_s >= start) & (time_s <= end)
    return mask
