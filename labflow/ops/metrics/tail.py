"""Reading a catalog table's new rows in id order, past a watermark, a bounded batch at a time."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import func, select

from labflow.store.catalog import Catalog

GAP_WAIT_S = 10.0


class IdTail:
    """The rows of a table added since the last reading (``id > watermark``, at most ``batch`` per call).

    On PostgreSQL a transaction that took id 7 may commit after one that took id 8; a reader that
    moved its watermark past 8 would never see 7. So a gap in the ids stops the reading until the gap
    is ``gap_wait_s`` old (then it is a rolled-back or deleted row and is passed).
    """

    def __init__(self, catalog: Catalog, id_column: Any, columns: Sequence[Any], *, batch: int = 5000,
                 gap_wait_s: float = GAP_WAIT_S, clock: Callable[[], float] = time.monotonic):
        self.catalog = catalog
        self.id_column = id_column
        self.columns = tuple(columns)
        self.batch = batch
        self.gap_wait_s = gap_wait_s
        self.clock = clock
        self.after = 0
        self._gap_seen_at: float | None = None

    def skip_to_end(self) -> None:
        """Start after the rows already there (counters then count what happens from now on)."""
        with self.catalog.session() as session:
            self.after = session.scalar(select(func.max(self.id_column))) or 0

    def read(self) -> list[tuple[Any, ...]]:
        """The new rows (their ``columns``), oldest first; the watermark moves past them."""
        query = (select(self.id_column, *self.columns).where(self.id_column > self.after)
                 .order_by(self.id_column).limit(self.batch))
        with self.catalog.session() as session:
            rows = session.execute(query).all()
        taken: list[tuple[Any, ...]] = []
        for row in rows:
            if row[0] != self.after + 1 and not self._gap_is_old():
                break
            self._gap_seen_at = None
            self.after = row[0]
            taken.append(tuple(row[1:]))
        return taken

    def _gap_is_old(self) -> bool:
        now = self.clock()
        if self._gap_seen_at is None:
            self._gap_seen_at = now
        return now - self._gap_seen_at >= self.gap_wait_s


class TimestampTail:
    """Records newer than the last reading, by timestamp, each counted once.

    For stores whose ids are not one sequence (Dagster's run-sharded event log): every reading asks
    again for the last ``overlap_s`` seconds (a record written late with an earlier timestamp is not
    lost) and drops the ids it has already returned (up to ``remembered`` of them).
    """

    def __init__(self, *, start: float | None = None, overlap_s: float = 5.0, remembered: int = 100_000):
        self.overlap_s = overlap_s
        self.remembered = remembered
        self.latest: float | None = start  # None: from the very first record
        self._seen: dict[str, None] = {}
        self._full = False

    @property
    def since(self) -> float | None:
        """Ask the store for records after this timestamp (``None``: from the start). After a full batch
        there is no overlap, so a backlog larger than one batch is read on, not again."""
        if self.latest is None:
            return None
        return self.latest if self._full else self.latest - self.overlap_s

    def take(self, records: Sequence[tuple[str, float]], *, full: bool = False) -> list[int]:
        """Of ``(id, timestamp)`` records read after :attr:`since`, oldest first, the indexes of those not
        seen before; ``full`` says the store returned as many as were asked for (more may wait)."""
        self._full = full
        fresh = []
        for index, (record_id, timestamp) in enumerate(records):
            self.latest = timestamp if self.latest is None else max(self.latest, timestamp)
            if record_id in self._seen:
                continue
            self._seen[record_id] = None
            fresh.append(index)
        while len(self._seen) > self.remembered:
            del self._seen[next(iter(self._seen))]
        return fresh
