"""The stream spool: events and pattern events appended as JSON lines by source and hour (UTC).

``$LABFLOW_HOME/streams/spool/{events,patterns}/<source>/<YYYY-MM-DDTHH>.jsonl``. Closed hours are
turned into Parquet assets by the Dagster sensor; :func:`StreamStore.prune` applies the retention.
"""

from __future__ import annotations

import json
import os
import threading
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from heapq import merge
from pathlib import Path
from typing import Any

import polars as pl

HOUR_FORMAT = "%Y-%m-%dT%H"
KINDS = ("events", "patterns")
PatternRow = tuple[datetime, str, dict[str, Any]]  # a pattern event's time, id and JSON form


def hour_of(moment: datetime) -> str:
    """The spool hour of a UTC time, e.g. ``2024-05-01T13``."""
    return moment.astimezone(timezone.utc).strftime(HOUR_FORMAT)


def parse_hour(hour: str) -> datetime:
    return datetime.strptime(hour, HOUR_FORMAT).replace(tzinfo=timezone.utc)


class PatternNotFound(LookupError):
    """No pattern event with this id in the spool (it may have passed its retention)."""


class StreamStore:
    """Append-only JSON-lines spool under ``root`` (``$LABFLOW_HOME/streams``)."""

    def __init__(self, root: Path):
        self.root = root
        self.spool = root / "spool"
        self._lock = threading.Lock()
        # Parsed pattern files by path with their (size, mtime): closed hours are read once, not per call.
        self._parsed: dict[str, tuple[tuple[int, int], list[PatternRow]]] = {}

    def _file(self, kind: str, source: str, hour: str) -> Path:
        return self.spool / kind / source / f"{hour}.jsonl"

    def _append(self, kind: str, source: str, rows: list[tuple[str, str]]) -> None:
        by_hour: dict[str, list[str]] = defaultdict(list)
        for hour, line in rows:
            by_hour[hour].append(line)
        with self._lock:
            for hour, lines in by_hour.items():
                path = self._file(kind, source, hour)
                path.parent.mkdir(parents=True, exist_ok=True)
                with path.open("a", encoding="utf-8") as handle:
                    handle.write("\n".join(lines) + "\n")

    def append_events(self, source: str, frame: pl.DataFrame, scores: list[float] | None = None) -> None:
        """Append a prepared batch (one JSON object per row, with its anomaly score if given)."""
        if frame.height == 0:
            return
        if scores is not None:
            frame = frame.with_columns(pl.Series("anomaly_score", scores, dtype=pl.Float64))
        hours = frame["timestamp"].dt.strftime(HOUR_FORMAT).to_list()
        lines = frame.with_columns(pl.col("timestamp").dt.strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00")).write_ndjson()
        self._append("events", source, list(zip(hours, lines.splitlines())))

    def append_patterns(self, source: str, patterns: list[dict[str, Any]]) -> None:
        """Append pattern events (their JSON form)."""
        rows = [(hour_of(datetime.fromisoformat(p["timestamp"])), json.dumps(p, default=str)) for p in patterns]
        if rows:
            self._append("patterns", source, rows)

    def sources(self, kind: str = "events") -> list[str]:
        folder = self.spool / kind
        return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []

    def hours(self, kind: str, source: str) -> list[str]:
        """Spooled hours of a source, oldest first."""
        folder = self.spool / kind / source
        return sorted(p.stem for p in folder.glob("*.jsonl")) if folder.is_dir() else []

    def size(self, kind: str, source: str, hour: str) -> int:
        """Bytes spooled for a source-hour (0 when none): a changed size means late events arrived."""
        path = self._file(kind, source, hour)
        return path.stat().st_size if path.exists() else 0

    def feedback_version(self) -> int:
        """Changes whenever feedback is recorded (newest modification time of the feedback files)."""
        folder = self.root / "feedback"
        return max((p.stat().st_mtime_ns for p in folder.glob("*.jsonl")), default=0) if folder.is_dir() else 0

    def closed_hours(self, now: datetime) -> list[tuple[str, str]]:
        """``(source, hour)`` pairs with spooled events whose hour is over (UTC)."""
        current = hour_of(now)
        return [(source, hour) for source in self.sources("events") for hour in self.hours("events", source)
                if hour < current]

    def read_events(self, source: str, hour: str) -> pl.DataFrame:
        """The spooled events of one hour (empty frame when there are none)."""
        path = self._file("events", source, hour)
        if not path.exists() or path.stat().st_size == 0:
            return pl.DataFrame()
        frame = pl.read_ndjson(path, infer_schema_length=None)
        return frame.with_columns(pl.col("timestamp").str.to_datetime(time_zone="UTC"))

    def read_patterns(self, source: str | None = None, hours: list[str] | None = None) -> list[dict[str, Any]]:
        """Pattern events, oldest first, of one source (or all) and some hours (or all)."""
        wanted = None if hours is None else set(hours)
        found = [row for name in ([source] if source else self.sources("patterns"))
                 for hour, entry in self._pattern_files(name).items() if wanted is None or hour in wanted
                 for row in self._hour_patterns(entry)]
        return [pattern for _, _, pattern in sorted(found, key=lambda row: row[:2])]

    def newest_patterns(self, source: str | None = None, *, since: datetime | None = None,
                        until: datetime | None = None) -> Iterator[PatternRow]:
        """``(time, id, pattern)`` newest first (ties by id, descending), from ``since`` to ``until``
        (inclusive): only the hour files in that range are opened, one hour at a time, as the caller reads on."""
        first, last = hour_of(since) if since else "", hour_of(until) if until else "~"
        by_hour: dict[str, list[os.DirEntry[str]]] = defaultdict(list)
        for name in [source] if source else self.sources("patterns"):
            for hour, entry in self._pattern_files(name).items():
                if first <= hour <= last:
                    by_hour[hour].append(entry)
        for hour in sorted(by_hour, reverse=True):
            lists = [self._hour_patterns(entry) for entry in by_hour[hour]]
            rows = lists[0] if len(lists) == 1 else merge(*lists, key=lambda row: row[:2], reverse=True)
            yield from (row for row in rows
                        if (since is None or row[0] >= since) and (until is None or row[0] <= until))

    def find_pattern(self, pattern_id: str) -> dict[str, Any]:
        """The pattern event with this id, or :class:`PatternNotFound`."""
        for _, found_id, pattern in self.newest_patterns():
            if found_id == pattern_id:
                return pattern
        raise PatternNotFound(f"there is no pattern {pattern_id!r}; list them with GET /api/v1/patterns")

    def _pattern_files(self, source: str) -> dict[str, os.DirEntry[str]]:
        """A source's pattern hour files by hour (one directory scan)."""
        try:
            with os.scandir(self.spool / "patterns" / source) as entries:
                return {e.name[:-6]: e for e in entries if e.name.endswith(".jsonl")}
        except FileNotFoundError:
            return {}

    def _hour_patterns(self, entry: os.DirEntry[str]) -> list[PatternRow]:
        """One hour file's patterns, newest first, parsed once and kept while the file stays the same."""
        try:
            stat = entry.stat()
        except FileNotFoundError:
            return []
        signature = (stat.st_size, stat.st_mtime_ns)
        cached = self._parsed.get(entry.path)
        if cached is not None and cached[0] == signature:
            return cached[1]
        with open(entry.path, encoding="utf-8") as handle:
            patterns = [json.loads(line) for line in handle if line.strip()]
        rows = sorted(((datetime.fromisoformat(p["timestamp"]), p["pattern_id"], p) for p in patterns),
                      key=lambda row: row[:2], reverse=True)
        self._parsed[entry.path] = (signature, rows)
        return rows

    def events_around(self, pattern: dict[str, Any], minutes: float = 30.0, limit: int = 500) -> pl.DataFrame:
        """The source's events within ``minutes`` of the pattern (at most ``limit``, nearest first kept)."""
        moment = datetime.fromisoformat(pattern["timestamp"])
        span = timedelta(minutes=minutes)
        first, last = hour_of(moment - span), hour_of(moment + span)
        hours = [h for h in self.hours("events", pattern["source"]) if first <= h <= last]
        frames = [f for f in (self.read_events(pattern["source"], h) for h in hours) if f.height]
        if not frames:
            return pl.DataFrame()
        frame = pl.concat(frames, how="diagonal_relaxed")
        frame = frame.filter(pl.col("timestamp").is_between(moment - span, moment + span))
        distance = (pl.col("timestamp") - pl.lit(moment)).abs()
        return frame.sort(distance).head(limit).sort("timestamp")

    def prune(self, now: datetime, *, raw_days: int = 7, pattern_days: int = 30) -> int:
        """Delete spooled hours past their retention (events ``raw_days``, patterns ``pattern_days``)."""
        removed = 0
        for kind, days in (("events", raw_days), ("patterns", pattern_days)):
            oldest = hour_of(now - timedelta(days=days))
            for source in self.sources(kind):
                for hour in self.hours(kind, source):
                    if hour < oldest:
                        self._file(kind, source, hour).unlink(missing_ok=True)
                        self._parsed.pop(str(self._file(kind, source, hour)), None)
                        removed += 1
        return removed
