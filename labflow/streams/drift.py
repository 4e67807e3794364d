"""Concept drift: ADWIN on each field's values, and DDM on a label (error) stream where one exists.

ADWIN keeps a window whose two halves have the same mean; when they differ significantly the old
part is dropped and a drift is reported if the mean moved by at least ``min_change`` standard
deviations. DDM watches the error rate of the anomaly alarms against the source's labels.

>>> from labflow.streams.sources import DriftSettings
>>> watch = DriftWatch(("v",), DriftSettings())
>>> watch.update({"v": 1.0})
[]

References: Bifet & Gavaldà (2007), *Learning from time-changing data with adaptive windowing*;
Gama et al. (2004), *Learning with drift detection*.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass

from river import drift
from river.drift.binary import DDM

from labflow.streams.sources import DriftSettings


@dataclass(slots=True)
class Shift:
    """A field's mean before and after a detected drift, in its units and in standard deviations."""

    field: str
    before: float
    after: float
    change_sd: float


class Spread:
    """Welford running mean and variance."""

    __slots__ = ("n", "mean", "m2")

    def __init__(self) -> None:
        self.n, self.mean, self.m2 = 0, 0.0, 0.0

    def update(self, x: float) -> None:
        self.n += 1
        delta = x - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (x - self.mean)

    @property
    def sd(self) -> float:
        return math.sqrt(self.m2 / (self.n - 1)) if self.n > 1 else 0.0


class DriftWatch:
    """One ADWIN per field; ``update`` returns the fields whose level shifted on this event.

    When ADWIN signals a change, the field's recent level (median of the last ``RECENT`` values, so one
    spike does not count) is compared with its level since the last reported drift (mean and spread); a
    shift of at least ``min_change`` standard deviations is reported and the new level becomes the reference.
    """

    RECENT = 31

    def __init__(self, fields: tuple[str, ...], settings: DriftSettings):
        self.settings = settings
        self.min_change = settings.min_change
        self.detectors = {f: drift.ADWIN(delta=settings.delta) for f in fields}
        self.spread = {f: Spread() for f in fields}
        self.recent: dict[str, deque[float]] = {f: deque(maxlen=self.RECENT) for f in fields}
        self.since_drift = settings.cooldown

    def configure(self, settings: DriftSettings, min_change: float) -> None:
        self.settings, self.min_change = settings, min_change

    def update(self, values: dict[str, float]) -> list[Shift]:
        self.since_drift += 1
        shifts = []
        for name, detector in self.detectors.items():
            value = values.get(name)
            if value is None:
                continue
            spread = self.spread[name]
            spread.update(value)
            self.recent[name].append(value)
            detector.update(value)
            if not detector.drift_detected or self.since_drift < self.settings.cooldown:
                continue
            recent = statistics.median(self.recent[name])
            change = abs(recent - spread.mean) / (spread.sd or 1.0)
            if change >= self.min_change:
                shifts.append(Shift(name, spread.mean, recent, change))
        for shift in shifts:
            self.spread[shift.field] = Spread()
            self.spread[shift.field].update(shift.after)
        if shifts:
            self.since_drift = 0
        return shifts


class LabelDrift:
    """DDM on the error stream ``alarm != label``: the detector's own error rate drifting."""

    def __init__(self) -> None:
        self.detector = DDM(warm_start=200)
        self.errors = 0
        self.seen = 0

    def update(self, alarmed: bool, label: bool) -> bool:
        error = alarmed != label
        self.seen += 1
        self.errors += error
        self.detector.update(error)
        return self.detector.drift_detected

    @property
    def error_rate(self) -> float:
        return self.errors / self.seen if self.seen else 0.0
