"""Registering complete inbox files as runs: hash, stage the bytes, de-duplicate, record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Literal

from labflow.store.catalog import Catalog
from labflow.keys import make_run_key
from labflow.ingest.metadata import sidecar_candidates
from labflow.store.objects import ObjectStore


@dataclass(frozen=True)
class IngestOutcome:
    """What happened to one complete file."""

    relative_path: str
    kind: Literal["new", "duplicate", "unreadable"]
    run_key: str | None = None
    detail: str = ""


def find_sidecar(data_file: Path) -> Path | None:
    """The metadata sidecar written beside ``data_file``, if any."""
    for name in sidecar_candidates(data_file.name):
        candidate = data_file.with_name(name)
        if candidate.is_file():
            return candidate
    return None


def ingest_file(
    inbox: Path,
    relative_path: str,
    *,
    objects: ObjectStore,
    catalog: Catalog,
    is_known_run: Callable[[str], bool],
    now: datetime,
    source_prefix: str = "inbox",
) -> IngestOutcome:
    """Stage one complete file (and its sidecar) from a folder inbox; see :func:`register_bytes`."""
    path = inbox / relative_path
    try:
        data = path.read_bytes()
    except OSError as error:
        return IngestOutcome(relative_path, "unreadable", detail=str(error))
    sidecar_path = find_sidecar(path)
    sidecar = (sidecar_path.name, sidecar_path.read_bytes().decode("utf-8", errors="replace")) if sidecar_path else None
    return register_bytes(data, relative=relative_path, source=f"{source_prefix}:{relative_path}", sidecar=sidecar,
                          objects=objects, catalog=catalog, is_known_run=is_known_run, now=now)


def register_bytes(data: bytes, *, relative: str, source: str, sidecar: tuple[str, str] | None,
                   objects: ObjectStore, catalog: Catalog, is_known_run: Callable[[str], bool],
                   now: datetime) -> IngestOutcome:
    """Stage bytes in the object store and record them in the catalog as a run.

    ``relative`` is the path below the inbox (its last part is the file name), ``source`` the catalog's
    ``<inbox>:<relative>``, ``sidecar`` ``(name, text)`` or ``None``. The same bytes seen again (under
    any name, from any inbox) are recorded as a duplicate of the existing run and never processed
    twice. ``is_known_run`` tells whether a run key already has a partition; a run registered in the
    catalog whose partition was never created is registered again.
    """
    name = PurePosixPath(relative).name
    sha256, stored = objects.store(data, name)
    existing = catalog.find_run_by_sha256(sha256)
    if existing is not None and is_known_run(existing.run_key):
        catalog.record_duplicate(run_key=existing.run_key, source=source, detected_at=now)
        return IngestOutcome(relative, "duplicate", existing.run_key)
    run_key = existing.run_key if existing else make_run_key(name, sha256)
    catalog.register_file(run_key=run_key, sha256=sha256, size_bytes=len(data), original_name=name, source=source,
                          object_path=stored, sidecar_name=sidecar[0] if sidecar else None,
                          sidecar_text=sidecar[1] if sidecar else None, detected_at=now)
    return IngestOutcome(relative, "new", run_key)
