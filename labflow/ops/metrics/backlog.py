"""What waits: files in the inbox or under an S3 prefix not handled yet, and unsent files of forwarders."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labflow.ingest.forward import JOURNAL_NAME, STATES, Journal
from labflow.ingest.inbox import FileStat, InboxCursor
from labflow.ingest.s3_inbox import SourceState, is_data_key
from labflow.s3 import S3Source

S3_MAX_PAGES = 10  # 10,000 keys per source and reading; beyond that the count is a lower bound


@dataclass(frozen=True)
class Backlog:
    """How many files wait and when the oldest of them was last written (Unix seconds; ``None`` if none)."""

    files: int
    oldest_at: float | None


def inbox_backlog(listing: dict[str, FileStat], cursor: InboxCursor) -> Backlog:
    """Files in the inbox ``listing`` that the inbox sensor has not handled (as they are now).

    ``cursor`` is the inbox sensor's cursor: a file is handled when it is in ``done`` with the same
    size and modification time. A stopped sensor or daemon leaves every new file waiting.

    >>> cursor = InboxCursor(done={"a.csv": (10, 1_000_000_000)})
    >>> inbox_backlog({"a.csv": (10, 1_000_000_000), "b.csv": (5, 3_000_000_000)}, cursor)
    Backlog(files=1, oldest_at=3.0)
    """
    waiting = [stat[1] for rel, stat in listing.items() if cursor.done.get(rel) != stat]
    return Backlog(len(waiting), min(waiting) / 1e9 if waiting else None)


@dataclass(frozen=True)
class ForwarderState:
    """A store-and-forward folder's journal: files by state and the oldest unsent file's last change."""

    folder: str
    files: dict[str, int]
    oldest_unsent_at: float | None


def forwarder_state(folder: Path) -> ForwarderState:
    """The journal of ``folder`` (zero files in every state when nothing was forwarded from it yet)."""
    if not (folder / JOURNAL_NAME).exists():
        return ForwarderState(str(folder), dict.fromkeys(STATES, 0), None)
    journal = Journal(folder / JOURNAL_NAME)
    try:
        return ForwarderState(str(folder), journal.counts(), journal.oldest_unsent())
    finally:
        journal.close()


@dataclass(frozen=True)
class S3Backlog:
    """Objects under an S3 source the S3 sensor has not handled; ``complete`` is false when only the first
    pages were listed (then ``files`` is a lower bound)."""

    source: str
    files: int
    oldest_at: float | None
    complete: bool


def s3_backlog(client: Any, source: S3Source, state: SourceState, *, max_pages: int = S3_MAX_PAGES,
               page_size: int = 1000) -> S3Backlog:
    """Data objects under ``source`` whose ETag the S3 sensor's ``state`` has not handled (at most
    ``max_pages`` listing requests of ``page_size`` keys)."""
    waiting: list[float] = []
    kwargs: dict[str, Any] = {"Bucket": source.bucket, "Prefix": source.prefix, "MaxKeys": page_size}
    for _ in range(max_pages):
        page = client.list_objects_v2(**kwargs)
        for item in page.get("Contents", []):
            relative = item["Key"][len(source.prefix):]
            handled = state.handled.get(relative)
            if is_data_key(relative) and (handled is None or handled[0] != item["ETag"].strip('"')):
                waiting.append(item["LastModified"].timestamp())
        if not page.get("IsTruncated"):
            return S3Backlog(source.url, len(waiting), min(waiting, default=None), True)
        kwargs["ContinuationToken"] = page["NextContinuationToken"]
    return S3Backlog(source.url, len(waiting), min(waiting, default=None), False)
