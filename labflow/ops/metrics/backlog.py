"""What waits: complete or incomplete files in the inbox not handled yet, and unsent files of forwarders."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from labflow.ingest.forward import JOURNAL_NAME, STATES, Journal
from labflow.ingest.inbox import FileStat, InboxCursor


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
