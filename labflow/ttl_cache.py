"""A value per key recomputed at most every few seconds, for counts that are "now" and costly to take."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any


class TtlCache:
    """Keeps each key's value for ``seconds``; when it is older, the first caller recomputes it while
    the others keep getting the old value (only a key never computed makes callers wait).

    >>> cache = TtlCache(60.0)
    >>> cache.get("runs", lambda: 3), cache.get("runs", lambda: 4)
    (3, 3)
    """

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._values: dict[Hashable, tuple[float, Any]] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The value of ``key``, from ``compute()`` when missing or older than ``seconds``."""
        now = time.monotonic()
        stored = self._values.get(key)
        if stored is not None and now - stored[0] < self.seconds:
            return stored[1]
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        if not lock.acquire(blocking=stored is None):
            return stored[1]  # someone else is recounting: the previous value meanwhile
        try:
            stored = self._values.get(key)
            if stored is None or time.monotonic() - stored[0] >= self.seconds:
                stored = (time.monotonic(), compute())
                self._values[key] = stored
            return stored[1]
        finally:
            lock.release()
