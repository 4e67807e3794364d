"""Reading a run's outputs for viewing: only the columns a view needs, kept in a small per-app LRU cache.

Opening a run of millions of samples reads two or three Parquet columns (tens of milliseconds) once;
zooming, editing peaks and redrawing then work on the cached frame.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from typing import Any

import polars as pl

from labflow.store.outputs import OutputStore

VIEW_ASSETS = ("clean_series", "peaks", "quality_report")
TIME_COLUMNS = ("time_s", "timestamp")
CACHE_ENTRIES = 8


class LruCache:
    """A thread-safe mapping that forgets the least recently used entry beyond ``capacity``."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)


class SeriesCache:
    """Columns of a run's stored series (``clean_series``, ``raw_series``), read once per file version."""

    def __init__(self, outputs: OutputStore, capacity: int = CACHE_ENTRIES):
        self.outputs = outputs
        self._frames = LruCache(capacity)
        self.previews = LruCache(capacity)

    def columns(self, asset: str, run_key: str) -> list[str]:
        """Column names of the stored frame (read from the Parquet footer only)."""
        return list(pl.read_parquet_schema(self._path(asset, run_key)))

    def frame(self, asset: str, run_key: str, columns: Sequence[str]) -> pl.DataFrame:
        """``time_s`` and ``columns`` of the stored frame; cached until the file changes."""
        path = self._path(asset, run_key)
        wanted = list(dict.fromkeys(["time_s", *columns]))
        key = (str(path), path.stat().st_mtime_ns, tuple(wanted))
        frame = self._frames.get(key)
        if frame is None:
            available = self.columns(asset, run_key)
            unknown = [c for c in wanted if c not in available]
            if unknown:
                raise KeyError(f"{asset} of {run_key} has no column(s) {', '.join(unknown)}")
            frame = pl.read_parquet(path, columns=wanted)
            self._frames.put(key, frame)
        return frame

    def _path(self, asset: str, run_key: str) -> Any:
        return self.outputs.local_path(asset, run_key)


def missing_outputs(outputs: OutputStore, run_key: str) -> list[str]:
    """The view's assets (clean series, peaks, quality report) not materialized for the run yet."""
    return [asset for asset in VIEW_ASSETS
            if not outputs.exists(asset, run_key, "json" if asset == "quality_report" else "parquet")]


def value_channels(columns: Sequence[str]) -> list[str]:
    """The measured channels among a clean series' columns (not time, not ``*_clean``)."""
    return [c for c in columns if c not in TIME_COLUMNS and not c.endswith("_clean")]
