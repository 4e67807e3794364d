"""How long files take from arrival to their peaks, and what sits in quarantine, by source and instrument."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from labflow.store.catalog import Catalog, RunRow
from labflow.ops.metrics.ingest import source_label
from labflow.ops.metrics.tally import BoundedLabel, Histogram

QUARANTINE_NOTE = ".error.txt"
_LOOKUP_CHUNK = 500


@dataclass(frozen=True)
class Arrival:
    """When a run's file arrived, from where, and its instrument (once its metadata was read)."""

    detected_at: datetime
    source: str
    instrument: str | None


def arrivals(catalog: Catalog, run_keys: Iterable[str]) -> dict[str, Arrival]:
    """The arrival of each of ``run_keys`` found in the catalog (primary-key lookups, in chunks)."""
    keys = sorted(set(run_keys))
    found: dict[str, Arrival] = {}
    query = select(RunRow.run_key, RunRow.detected_at, RunRow.source, RunRow.instrument)
    with catalog.session() as session:
        for start in range(0, len(keys), _LOOKUP_CHUNK):
            chunk = keys[start:start + _LOOKUP_CHUNK]
            for key, detected_at, source, instrument in session.execute(query.where(RunRow.run_key.in_(chunk))):
                found[key] = Arrival(detected_at, source, instrument)
    return found


class EtlLatency:
    """Seconds from a file's arrival to its ``peaks`` materialization, by source and instrument.

    Fed with the materializations the API reads from Dagster (each partition once: a later
    re-materialization of the same run, e.g. with a new recipe, is not a new arrival).
    """

    def __init__(self, catalog: Catalog, *, remembered: int = 200_000):
        self.catalog = catalog
        self.histogram = Histogram()
        self._instrument = BoundedLabel()
        self._source = BoundedLabel()
        self._seen: dict[str, None] = {}
        self._remembered = remembered

    def observe(self, materialized: Iterable[tuple[str, datetime]]) -> int:
        """Observe ``(run_key, materialized_at)`` pairs of runs not seen before; returns how many."""
        fresh = [(key, at) for key, at in materialized if key not in self._seen]
        found = arrivals(self.catalog, (key for key, _ in fresh))
        for key, at in fresh:
            arrival = found.get(key)
            if arrival is None:  # not in this catalog (another lab's instance): nothing to measure
                continue
            self._remember(key)
            labels = (self._source(source_label(arrival.source)), self._instrument(arrival.instrument))
            self.histogram.observe(labels, max(0.0, (at - arrival.detected_at).total_seconds()))
        return len(fresh)

    def _remember(self, key: str) -> None:
        self._seen[key] = None
        if len(self._seen) > self._remembered:  # forget the oldest; a very old run is rarely re-materialized
            del self._seen[next(iter(self._seen))]


class QuarantineCensus:
    """Files in the quarantine folder by source and instrument (each ``.error.txt`` note read once)."""

    def __init__(self, folder: Path, catalog: Catalog):
        self.folder = folder
        self.catalog = catalog
        self._notes: dict[str, tuple[str, str]] = {}
        self._instrument = BoundedLabel()
        self._source = BoundedLabel()

    def counts(self) -> dict[tuple[str, str], int]:
        """``(source, instrument) -> files`` now in quarantine."""
        names = {p.name for p in self.folder.glob(f"*{QUARANTINE_NOTE}")} if self.folder.is_dir() else set()
        self._notes = {name: labels for name, labels in self._notes.items() if name in names}
        new = {name: _read_note(self.folder / name) for name in names - set(self._notes)}
        found = arrivals(self.catalog, (run_key for run_key, _ in new.values() if run_key))
        for name, (run_key, source) in new.items():
            arrival = found.get(run_key)
            self._notes[name] = (self._source(source_label(source)),
                                 self._instrument(arrival.instrument if arrival else None))
        out: dict[tuple[str, str], int] = {}
        for labels in self._notes.values():
            out[labels] = out.get(labels, 0) + 1
        return out


def _read_note(path: Path) -> tuple[str, str]:
    """``(run key, source)`` from a quarantine note (see :func:`labflow.store.objects.quarantine`)."""
    fields: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "", ""
    for line in text.splitlines()[:6]:
        name, _, value = line.partition(":")
        fields[name.strip()] = value.strip()
    return fields.get("run key", ""), fields.get("source", "")
