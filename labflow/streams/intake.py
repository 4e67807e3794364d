"""Back-pressure: a bounded queue per source. A batch is accepted whole or rejected whole with a
retry-after hint; nothing is dropped silently. Counters: accepted, rejected, processed (events)."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from labflow.streams.events import Event


@dataclass(frozen=True)
class Admission:
    """The answer to an offered batch: accepted, or rejected with how long to wait before resending."""

    accepted: bool
    queued: int
    capacity: int
    retry_after_s: int = 0


@dataclass
class SourceCounters:
    accepted: int = 0
    rejected: int = 0
    processed: int = 0
    failed: int = 0
    queued: int = 0
    last_error: str = ""


@dataclass
class _Queue:
    capacity: int
    batches: deque = field(default_factory=deque)
    counters: SourceCounters = field(default_factory=SourceCounters)


class Intake:
    """Bounded per-source queues between the senders and the engine's worker."""

    def __init__(self) -> None:
        self._queues: dict[str, _Queue] = {}
        self._ready = threading.Condition()
        self._order: deque[str] = deque()
        self._rate = 5_000.0  # events/s, a running estimate used for the retry-after hint

    def offer(self, source: str, events: list[Event], capacity: int) -> Admission:
        """Queue the batch if it fits within ``capacity`` events, else reject it (and count it)."""
        with self._ready:
            queue = self._queues.setdefault(source, _Queue(capacity))
            queue.capacity = capacity
            counters = queue.counters
            if counters.queued + len(events) > capacity:
                counters.rejected += len(events)
                wait = max(1, math.ceil((counters.queued + len(events) - capacity) / max(self._rate, 1.0)))
                return Admission(False, counters.queued, capacity, wait)
            queue.batches.append(events)
            counters.accepted += len(events)
            counters.queued += len(events)
            self._order.append(source)
            self._ready.notify()
            return Admission(True, counters.queued, capacity)

    def take(self, timeout: float) -> tuple[str, list[Event]] | None:
        """The next queued batch (sources in arrival order), or ``None`` after ``timeout`` seconds."""
        with self._ready:
            if not self._order and not self._ready.wait_for(lambda: bool(self._order), timeout):
                return None
            source = self._order.popleft()
            return source, self._queues[source].batches.popleft()

    def done(self, source: str, count: int, seconds: float, error: str | None = None) -> None:
        """Count a batch as processed (or failed, with the reason) and update the rate estimate."""
        with self._ready:
            counters = self._queues[source].counters
            counters.queued -= count
            if error is None:
                counters.processed += count
            else:
                counters.failed += count
                counters.last_error = error
            if seconds > 0 and count:
                self._rate = 0.8 * self._rate + 0.2 * (count / seconds)

    def counters(self) -> dict[str, SourceCounters]:
        """A copy of every source's counters."""
        with self._ready:
            return {name: SourceCounters(**vars(q.counters)) for name, q in self._queues.items()}

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until every queued event was processed (for tests, replays and shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._ready:
                if all(q.counters.queued == 0 for q in self._queues.values()):
                    return True
            time.sleep(0.01)
        return False
