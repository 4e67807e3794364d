"""Anomalies: readings outside the model's prediction interval, each with a reason a person can read.

Example::

    find_anomalies(times, actual=[10, 31], predicted=[10, 20], lower=[8, 16], upper=[12, 21.4])
    # [Anomaly(..., reason='exceeds the predicted upper bound by 45% (31 vs at most 21.4, expected 20)')]
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np


@dataclass(frozen=True)
class Anomaly:
    """One reading outside the interval: how far outside (``excess``, relative to the bound) and why."""

    timestamp: datetime
    value: float
    predicted: float
    lower: float
    upper: float
    direction: str  # "above" | "below"
    excess: float
    reason: str


def find_anomalies(timestamps: list[datetime], actual: np.ndarray, predicted: np.ndarray, lower: np.ndarray,
                   upper: np.ndarray) -> list[Anomaly]:
    """The readings above ``upper`` or below ``lower`` (missing readings are never anomalies)."""
    actual, predicted = np.asarray(actual, dtype=float), np.asarray(predicted, dtype=float)
    lower, upper = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    found = []
    for i in np.flatnonzero((actual > upper) | (actual < lower)):
        value, low, high, expected = float(actual[i]), float(lower[i]), float(upper[i]), float(predicted[i])
        if value > high:
            excess = _relative(value - high, high)
            reason = (f"exceeds the predicted upper bound by {_amount(excess, value - high)} "
                      f"({value:.4g} vs at most {high:.4g}, expected {expected:.4g})")
            found.append(Anomaly(timestamps[i], value, expected, low, high, "above", excess, reason))
        else:
            excess = _relative(low - value, low)
            reason = (f"falls below the predicted lower bound by {_amount(excess, low - value)} "
                      f"({value:.4g} vs at least {low:.4g}, expected {expected:.4g})")
            found.append(Anomaly(timestamps[i], value, expected, low, high, "below", excess, reason))
    return found


def _relative(distance: float, bound: float) -> float:
    return distance / abs(bound) if abs(bound) > 1e-9 else float("inf")


def _amount(relative: float, absolute: float) -> str:
    return f"{relative:.0%}" if np.isfinite(relative) else f"{absolute:.4g}"
