"""Slowing down guessing: after too many failures in a window, further tries are refused for a while.

Each failed API-key check costs the server ~30 ms of scrypt; without a limit, a client could try
secrets for a known key prefix as fast as the CPU allows. Failures are counted per name (a client
address, a key prefix) in a sliding window; memory stays bounded (oldest names dropped first).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque


class FailureLimit:
    """At most ``limit`` failures per name within ``window_s``; then tries wait until the oldest one expires."""

    def __init__(self, limit: int, window_s: float, max_names: int = 10_000):
        self.limit, self.window_s, self.max_names = limit, window_s, max_names
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, *names: str, now: float | None = None) -> float:
        """Seconds until any of ``names`` may try again (0: allowed now)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            waits = [self._wait(name, now) for name in names if name]
        return max(waits, default=0.0)

    def failed(self, *names: str, now: float | None = None) -> None:
        """Record one failure for each of ``names``."""
        now = time.monotonic() if now is None else now
        with self._lock:
            for name in filter(None, names):
                times = self._failures.pop(name, deque())
                times.append(now)
                self._failures[name] = times
                while len(self._failures) > self.max_names:
                    self._failures.popitem(last=False)

    def _wait(self, name: str, now: float) -> float:
        times = self._failures.get(name)
        if not times:
            return 0.0
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times[0] + self.window_s - now if len(times) >= self.limit else 0.0
