"""Files seen, ingested (new bytes) and duplicate, by source, from the catalog's ingest events."""

from __future__ import annotations

from labflow.store.catalog import Catalog, IngestEventRow
from labflow.ops.metrics.tail import IdTail
from labflow.ops.metrics.tally import BoundedLabel, Counts


def source_label(source: str) -> str:
    """The inbox a file came from, without the file: ``inbox``, ``s3/bucket/prefix``, ``upload``, ``history``.

    >>> source_label("inbox:hplc-01/run_003.csv"), source_label("s3/lab-raw/incoming:a/b.txt")
    ('inbox', 's3/lab-raw/incoming')
    """
    return source.split(":", 1)[0] or "unknown"


class IngestTally:
    """Ingest events since it was made, counted by source and kind (``new`` or ``duplicate``), read incrementally.

    Counting starts now, as Prometheus counters do at a process start (``rate()`` takes the reset in its
    stride); the catalog's totals are the ``labflow_runs`` gauges.
    """

    def __init__(self, catalog: Catalog, *, batch: int = 5000):
        self._tail = IdTail(catalog, IngestEventRow.id, (IngestEventRow.source, IngestEventRow.kind), batch=batch)
        self._tail.skip_to_end()
        self._source = BoundedLabel()
        self.counts = Counts()

    def refresh(self) -> int:
        """Count the events added since the last call; returns how many."""
        rows = self._tail.read()
        for source, kind in rows:
            self.counts.add((self._source(source_label(source)), kind))
        return len(rows)

    def by_source(self, kind: str | None = None) -> dict[str, int]:
        """Events per source (of one kind, or all)."""
        out: dict[str, int] = {}
        for (source, event_kind), count in self.counts.values.items():
            if kind is None or event_kind == kind:
                out[source] = out.get(source, 0) + count
        return out
