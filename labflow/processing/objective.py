"""A run's objective value for the optimiser, computed from its confirmed peaks by the recipe's rule.

Rules (``objective.kind`` in the recipe): the height or area of the main (highest) peak, the height
of the peak nearest ``position_s`` (within ``window_s`` if given), or the mean of the cleaned
signal over a plateau window (``position_s`` ± ``window_s``/2; by default the last 10 % of the run).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import polars as pl

from labflow.processing.recipes import ObjectiveParams

PLATEAU_DEFAULT_FRACTION = 0.10


@dataclass(frozen=True)
class ObjectiveValue:
    """The objective of one run; ``value`` is ``None`` when the rule finds nothing (with the reason)."""

    kind: str
    value: float | None
    detail: str
    peak_time_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def compute_objective(params: ObjectiveParams, peaks: pl.DataFrame, time_s: np.ndarray,
                      values: np.ndarray) -> ObjectiveValue:
    """Apply the recipe's objective rule to a run's (confirmed) peak table and cleaned signal."""
    if params.kind == "plateau_mean":
        return _plateau_mean(params, np.asarray(time_s, dtype=np.float64), np.asarray(values, dtype=np.float64))
    if peaks.height == 0:
        return ObjectiveValue(params.kind, None, "no peaks: nothing to measure")
    if params.kind == "peak_near":
        return _peak_near(params, peaks)
    main = peaks.sort("height", descending=True).row(0, named=True)
    column = "height" if params.kind == "main_peak_height" else "area"
    return ObjectiveValue(params.kind, float(main[column]),
                          f"{column} of the highest peak, at {main['time_s']:g} s", float(main["time_s"]))


def _peak_near(params: ObjectiveParams, peaks: pl.DataFrame) -> ObjectiveValue:
    position = float(params.position_s)  # validated: peak_near needs position_s
    distance = (peaks["time_s"] - position).abs()
    best = peaks.row(int(distance.arg_min()), named=True)
    gap = abs(best["time_s"] - position)
    if params.window_s is not None and gap > params.window_s:
        return ObjectiveValue(params.kind, None,
                              f"no peak within {params.window_s:g} s of {position:g} s (nearest {gap:g} s away)")
    return ObjectiveValue(params.kind, float(best["height"]),
                          f"height of the peak nearest {position:g} s (at {best['time_s']:g} s)",
                          float(best["time_s"]))


def _plateau_mean(params: ObjectiveParams, time_s: np.ndarray, values: np.ndarray) -> ObjectiveValue:
    if time_s.size == 0:
        return ObjectiveValue(params.kind, None, "empty series")
    if params.position_s is not None and params.window_s is not None:
        start, end = params.position_s - params.window_s / 2, params.position_s + params.window_s / 2
    else:
        span = time_s[-1] - time_s[0]
        start, end = time_s[-1] - PLATEAU_DEFAULT_FRACTION * span, time_s[-1]
    inside = (time_s >= start) & (time_s <= end) & np.isfinite(values)
    if not inside.any():
        return ObjectiveValue(params.kind, None, f"no samples between {start:g} s and {end:g} s")
    return ObjectiveValue(params.kind, float(values[inside].mean()),
                          f"mean of {int(inside.sum())} samples between {start:g} s and {end:g} s")
