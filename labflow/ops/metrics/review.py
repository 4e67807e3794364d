"""Confirmed annotations, counted from the catalog's annotation versions as they are added."""

from __future__ import annotations

from labflow.store.catalog import Catalog
from labflow.ops.metrics.tail import IdTail
from labflow.review.store import AnnotationVersionRow


class ConfirmationTally:
    """How many annotation versions were confirmed since it was made (every one counted once)."""

    def __init__(self, catalog: Catalog, *, batch: int = 5000):
        self._tail = IdTail(catalog, AnnotationVersionRow.id, (AnnotationVersionRow.version,), batch=batch)
        self._tail.skip_to_end()
        self.confirmed = 0

    def refresh(self) -> int:
        rows = self._tail.read()
        self.confirmed += len(rows)
        return len(rows)
