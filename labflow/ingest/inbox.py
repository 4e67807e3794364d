"""The watched inbox: which files are complete and new.

A file counts as complete when its size and modification time are unchanged between two scans
(a slow writer is never read half-written); temporary names are ignored. The scan state is a small
JSON cursor holding the files seen once (``pending``) and the files already handled (``done``);
entries of files that left the inbox are dropped, so the cursor stays as small as the inbox.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from labflow.ingest.metadata import is_sidecar

FileStat = tuple[int, int]  # (size in bytes, mtime in ns)

_TEMP_SUFFIXES = (".part", ".partial", ".tmp", ".temp", ".crdownload", ".download", ".swp", ".lock")
_IGNORED_NAMES = {"Thumbs.db", "desktop.ini"}


def is_ignored(name: str) -> bool:
    """Temporary, hidden and lock files, and sidecars (read with their data file, never alone)."""
    lower = name.lower()
    return (
        name.startswith((".", "~$", "~"))
        or lower.endswith(_TEMP_SUFFIXES)
        or name in _IGNORED_NAMES
        or is_sidecar(name)
    )


def scan_inbox(inbox: Path) -> dict[str, FileStat]:
    """Every candidate data file below ``inbox`` (recursive) as ``relative posix path -> stat``."""
    found: dict[str, FileStat] = {}
    stack = [inbox]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, PermissionError):
            continue
        for entry in entries:
            if is_ignored(entry.name):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file():
                    stat = entry.stat()
                    rel = Path(entry.path).relative_to(inbox).as_posix()
                    found[rel] = (stat.st_size, stat.st_mtime_ns)
            except FileNotFoundError:
                continue
    return found


@dataclass
class InboxCursor:
    """Scan state kept in the sensor cursor."""

    pending: dict[str, FileStat] = field(default_factory=dict)
    done: dict[str, FileStat] = field(default_factory=dict)

    @classmethod
    def from_json(cls, text: str | None) -> "InboxCursor":
        """Read a cursor; ``None`` or empty means a fresh start."""
        if not text:
            return cls()
        data = json.loads(text)
        return cls(
            pending={k: (int(v[0]), int(v[1])) for k, v in data.get("pending", {}).items()},
            done={k: (int(v[0]), int(v[1])) for k, v in data.get("done", {}).items()},
        )

    def to_json(self) -> str:
        return json.dumps({"v": 1, "pending": self.pending, "done": self.done}, separators=(",", ":"), sort_keys=True)

    def advance(self, listing: dict[str, FileStat], limit: int) -> list[str]:
        """Update with a new scan; return up to ``limit`` files that are complete and not yet handled.

        Returned files stay pending until :meth:`mark_done` is called for them, so a file that could
        not be read is retried on the next scan.
        """
        self.done = {rel: stat for rel, stat in self.done.items() if listing.get(rel) == stat}
        ready: list[str] = []
        pending: dict[str, FileStat] = {}
        for rel in sorted(listing):
            stat = listing[rel]
            if rel in self.done:
                continue
            if self.pending.get(rel) == stat and len(ready) < limit:
                ready.append(rel)
            pending[rel] = stat
        self.pending = pending
        return ready

    def mark_done(self, rel: str, stat: FileStat) -> None:
        """Remember that ``rel`` with this stat has been handled."""
        self.pending.pop(rel, None)
        self.done[rel] = stat
