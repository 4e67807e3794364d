"""Small thread-safe caches for answers that are expensive to build and cheap to keep."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")


class SingleFlight:
    """One computation per key at a time: callers arriving meanwhile wait, then find its result."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()

    @contextmanager
    def __call__(self, key: Hashable) -> Iterator[None]:
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        try:
            with lock:
                yield
        finally:
            with self._lock:
                self._locks.pop(key, None)


class LruCache:
    """A thread-safe least-recently-used cache bounded by item count and by total weight (e.g. bytes).

    A value heavier than the whole budget is returned but not kept.
    """

    def __init__(self, size: int, *, max_weight: float = float("inf"), weigh: Callable[[Any], float] = lambda _: 0):
        self.size = size
        self.max_weight = max_weight
        self.weigh = weigh
        self._items: OrderedDict[Hashable, tuple[Any, float]] = OrderedDict()
        self._weight = 0.0
        self._lock = threading.Lock()
        self._single_flight = SingleFlight()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The cached value, or ``compute()`` stored under ``key``; concurrent misses compute it once."""
        found = self.find(key)
        if found is not None:
            return found
        with self._single_flight(key):
            found = self.find(key)
            if found is None:
                found = compute()
                self.put(key, found)
        return found

    def find(self, key: Hashable) -> Any:
        """The cached value or ``None``."""
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key][0]

    def put(self, key: Hashable, value: Any) -> None:
        weight = self.weigh(value)
        if weight > self.max_weight:
            return
        with self._lock:
            if key in self._items:
                self._weight -= self._items.pop(key)[1]
            self._items[key] = (value, weight)
            self._weight += weight
            while len(self._items) > self.size or self._weight > self.max_weight:
                self._weight -= self._items.popitem(last=False)[1][1]
