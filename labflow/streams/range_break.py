"""Range break: a value beyond everything seen so far, by more than ``margin`` of the range seen.

The "spatial anomaly" of Numenta's NAB entry: a level never reached before is worth an alarm at once,
whatever the likelihood layer (which needs a few events to move) says.

Parameters
----------
margin
    How far past the seen minimum or maximum, as a share of the seen range, a value must lie.

Examples
--------
>>> watch = RangeBreak(margin=0.05)
>>> [watch.update(v) for v in (1.0, 2.0, 1.5, 2.04, 2.2, 0.5)]
[False, True, False, False, True, True]
"""

from __future__ import annotations

import math


class RangeBreak:
    """The minimum and maximum seen so far; :meth:`update` says whether the value broke out of them."""

    def __init__(self, margin: float = 0.05):
        self.margin = margin
        self.low, self.high = math.inf, -math.inf

    def update(self, x: float) -> bool:
        """Whether ``x`` lies more than ``margin`` of the range beyond it (after a constant start: any other
        value), then widen the range."""
        reach = self.margin * (self.high - self.low)
        broke = self.high >= self.low and (x > self.high + reach or x < self.low - reach)
        self.low, self.high = min(self.low, x), max(self.high, x)
        return broke
