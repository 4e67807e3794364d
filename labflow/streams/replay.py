"""Replay a recorded stream (CSV or JSONL) to the API at N times its recorded pace (for tests and demos).

``labflow replay FILE --source S --speed N``: rows become standard events using the source's timestamp
rule (from ``sources/S.yaml`` when present); a ``429`` is waited out (``Retry-After``) and the same
batch re-sent, so nothing is lost. ``--speed 0`` sends as fast as the server takes them.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

from labflow.streams.connectors import read_rows, row_to_event
from labflow.streams.sources import SourceConfig, SourceRegistry, UnknownSource, source_from_mapping


@dataclass
class ReplayReport:
    """What a replay sent."""

    events: int = 0
    batches: int = 0
    retries: int = 0
    seconds: float = 0.0


def recorded_events(path: Path, config: SourceConfig, *, restamp: bool = False) -> list[dict]:
    """The file's rows as standard events (JSON form); with ``restamp`` shifted so the first is now."""
    rows, _ = read_rows(path.read_text(encoding="utf-8"), path.suffix.lower(), None)
    events = [row_to_event(row, config, f"{path.stem}:{i + 1}") for i, row in enumerate(rows)]
    if restamp:
        shift_to_now(events, anchor=0)
    return events


def shift_to_now(events: list[dict], *, anchor: int) -> None:
    """Shift every timestamp by the same amount so that ``events[anchor]`` happens now (0: the recording
    starts now; -1: it ends now)."""
    if not events:
        return
    shift = datetime.now(timezone.utc) - datetime.fromisoformat(events[anchor]["timestamp"])
    for event in events:
        event["timestamp"] = (datetime.fromisoformat(event["timestamp"]) + shift).isoformat()


def replay(events: list[dict], source: str, url: str, *, speed: float = 0.0, batch: int = 500,
           headers: dict[str, str] | None = None, progress: Callable[[ReplayReport], None] | None = None,
           sleep: Callable[[float], None] = time.sleep) -> ReplayReport:
    """Send ``events`` to ``url``'s stream endpoint in time order, ``speed`` times faster than recorded."""
    report = ReplayReport()
    if not events:
        return report
    stamps = [datetime.fromisoformat(e["timestamp"]) for e in events]
    first, started = stamps[0], time.monotonic()
    endpoint = f"{url.rstrip('/')}/api/v1/streams/{source}/events"
    with httpx.Client(timeout=60, headers=headers) as client:
        i = 0
        while i < len(events):
            chunk = events[i:i + batch]
            if speed > 0:
                due = (stamps[i] - first).total_seconds() / speed
                wait = due - (time.monotonic() - started)
                if wait > 0:
                    sleep(wait)
                horizon = first + timedelta(seconds=(time.monotonic() - started) * speed)
                chunk = [e for e, t in zip(chunk, stamps[i:i + batch]) if t <= horizon] or chunk[:1]
            while (answer := client.post(endpoint, json=chunk)).status_code == 429:
                report.retries += 1
                sleep(float(answer.headers.get("Retry-After", "1")))
            if answer.status_code >= 400:
                raise RuntimeError(f"the server refused events {i}–{i + len(chunk) - 1}: {answer.status_code} "
                                   f"{answer.text[:300]}")
            i += len(chunk)
            report.events += len(chunk)
            report.batches += 1
            if progress:
                progress(report)
    report.seconds = time.monotonic() - started
    return report


def replay_command(args, settings) -> int:
    """``labflow replay``: read the file, send it, print a summary."""
    path = Path(args.file)
    if not path.exists():
        print(f"error: there is no file {path}", file=sys.stderr)
        return 2
    try:
        config = SourceRegistry(settings.sources_dir).get(args.source)
    except UnknownSource:
        config = source_from_mapping({"name": args.source, "fields": ["value"]}, "replay")
    events = recorded_events(path, config, restamp=args.restamp)
    url = args.url or f"http://127.0.0.1:{settings.api_port}"
    headers = {"Authorization": f"Bearer {args.key}"} if args.key else None

    def show(report: ReplayReport) -> None:
        print(f"\rsent {report.events:,}/{len(events):,} events ({report.retries} retries)", end="", file=sys.stderr)

    try:
        report = replay(events, args.source, url, speed=args.speed, batch=args.batch, headers=headers, progress=show)
    except (httpx.HTTPError, RuntimeError) as error:
        print(f"\nerror: {error}", file=sys.stderr)
        return 1
    print(f"\nreplayed {report.events:,} events of {path.name} to {args.source} in {report.seconds:.1f} s "
          f"({report.batches} batches, {report.retries} retries after 429)")
    return 0
