"""Pull connectors: tail a growing CSV/JSONL file, poll a REST URL. Both turn rows into standard events.

A file tail remembers its byte offset (in ``$LABFLOW_HOME/streams/connectors/<source>.json``) and only
reads complete lines, so a restart neither loses nor repeats rows; a truncated file starts again.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from labflow.store.atomic import write_atomic
from labflow.streams.events import Event, EventError, parse_batch, parse_timestamp
from labflow.streams.sources import SourceConfig


def row_to_event(row: dict[str, Any], config: SourceConfig, fallback_id: str) -> dict[str, Any]:
    """A raw row (CSV or JSON) as a standard event, using the source's timestamp rule and id field."""
    if {"event_id", "payload"} <= set(row):
        return row
    raw_time = row.get(config.timestamp_field)
    if config.timestamp_format and isinstance(raw_time, str):
        try:
            raw_time = datetime.strptime(raw_time, config.timestamp_format)
        except ValueError:
            raise EventError(f"{fallback_id}: {config.timestamp_field} {raw_time!r} does not match the format "
                             f"{config.timestamp_format!r} of source {config.name!r}") from None
    stamp = parse_timestamp(raw_time, assume_tz=config.tz, where=f"{fallback_id} {config.timestamp_field}")
    event_id = str(row[config.id_field]) if config.id_field and row.get(config.id_field) is not None else fallback_id
    payload = {k: v for k, v in row.items() if k != config.timestamp_field}
    return {"event_id": event_id, "source": config.name, "type": "measurement", "timestamp": stamp.isoformat(),
            "payload": payload}


def read_rows(text: str, suffix: str, header: list[str] | None) -> tuple[list[dict[str, Any]], list[str] | None]:
    """Complete lines of CSV (with the header seen so far) or JSONL as dictionaries."""
    lines = [line for line in text.splitlines() if line.strip()]
    if suffix in (".jsonl", ".ndjson", ".json"):
        return [json.loads(line) for line in lines], header
    if header is None and lines:
        header, lines = next(csv.reader([lines[0]])), lines[1:]
    rows = [dict(zip(header or [], values)) for values in csv.reader(io.StringIO("\n".join(lines)))]
    return rows, header


class FileTail:
    """New complete rows of a growing CSV or JSONL file, as validated events."""

    def __init__(self, config: SourceConfig, state_dir: Path):
        assert config.path, "a file source has a path"
        self.config = config
        self.path = Path(config.path).expanduser()
        self.state_path = state_dir / f"{config.name}.json"
        state = json.loads(self.state_path.read_text()) if self.state_path.exists() else {}
        self.offset: int = state.get("offset", 0)
        self.line: int = state.get("line", 0)
        self.header: list[str] | None = state.get("header")

    def poll(self) -> list[Event]:
        """Events for the rows appended since the last call (none if the file has not grown)."""
        if not self.path.exists():
            return []
        size = self.path.stat().st_size
        if size < self.offset:  # truncated or replaced: start again
            self.offset, self.line, self.header = 0, 0, None
        if size == self.offset:
            return []
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            chunk = handle.read(size - self.offset)
        end = chunk.rfind(b"\n") + 1
        if end == 0:
            return []
        rows, header = read_rows(chunk[:end].decode("utf-8"), self.path.suffix.lower(), self.header)
        stem = hashlib.sha256(str(self.path).encode()).hexdigest()[:8]
        raws = [row_to_event(row, self.config, f"{stem}:{self.line + i + 1}") for i, row in enumerate(rows)]
        events = parse_batch(raws, self.config.name, assume_tz=self.config.tz)
        self.offset += end
        self.line += len(rows)
        self.header = header
        return events

    def commit(self) -> None:
        """Remember the offset (after the events were accepted)."""
        write_atomic(self.state_path, json.dumps({"offset": self.offset, "line": self.line,
                                                  "header": self.header}).encode())


def poll_url(config: SourceConfig, client: Any) -> list[Event]:
    """GET the source's URL; the answer is a list of rows/events or ``{"events": [...]}``."""
    answer = client.get(config.url, timeout=10)
    answer.raise_for_status()
    body = answer.json()
    rows = body.get("events", []) if isinstance(body, dict) else body
    stamp = datetime.now().strftime("%Y%m%d%H%M%S%f")
    raws = [row_to_event(row, config, f"poll:{stamp}:{i}") for i, row in enumerate(rows)]
    return parse_batch(raws, config.name, assume_tz=config.tz)
