"""Counts and histograms keyed by a few bounded labels."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field

Labels = tuple[str, ...]

# Seconds from a file's arrival to its peaks: a minute to a day.
ETL_BUCKETS_S = (1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600)
OTHER = "other"


class BoundedLabel:
    """A label value kept as it is for the first ``limit`` distinct values, ``other`` after that.

    Values come from files (an instrument's name in a sidecar); a bounded label keeps a stray
    value from creating thousands of series.

    >>> label = BoundedLabel(limit=2)
    >>> [label("a"), label("b"), label("c"), label("a"), label(None)]
    ['a', 'b', 'other', 'a', 'unknown']
    """

    def __init__(self, limit: int = 50):
        self.limit = limit
        self._known: set[str] = set()

    def __call__(self, value: str | None) -> str:
        if not value:
            return "unknown"
        if value in self._known:
            return value
        if len(self._known) < self.limit:
            self._known.add(value)
            return value
        return OTHER


@dataclass
class Counts:
    """Monotonic counts by label values."""

    values: dict[Labels, int] = field(default_factory=dict)

    def add(self, labels: Labels, amount: int = 1) -> None:
        self.values[labels] = self.values.get(labels, 0) + amount


@dataclass
class HistogramState:
    """One label set's cumulative bucket counts, sum and count."""

    buckets: list[int]
    total: float = 0.0
    count: int = 0


class Histogram:
    """Observations by label values, in fixed upper bounds (``le``), as Prometheus histograms count them.

    >>> h = Histogram((1, 10))
    >>> h.observe(("x",), 5)
    >>> h.observe(("x",), 50)
    >>> h.snapshot()[("x",)].buckets, h.snapshot()[("x",)].count
    ([0, 1], 2)
    """

    def __init__(self, bounds: Sequence[float] = ETL_BUCKETS_S):
        self.bounds = tuple(float(b) for b in bounds)
        self._states: dict[Labels, HistogramState] = {}

    def observe(self, labels: Labels, value: float) -> None:
        state = self._states.setdefault(labels, HistogramState([0] * len(self.bounds)))
        for index in range(bisect.bisect_left(self.bounds, value), len(self.bounds)):
            state.buckets[index] += 1
        state.total += value
        state.count += 1

    def snapshot(self) -> dict[Labels, HistogramState]:
        return {labels: HistogramState(list(s.buckets), s.total, s.count) for labels, s in self._states.items()}
