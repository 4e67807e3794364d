"""The object store (immutable, content-addressed raw copies) and the quarantine folder."""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path, PurePath

from labflow.keys import sha256_hex


class ObjectIntegrityError(RuntimeError):
    """A stored object is missing or its bytes no longer match its hash."""


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def object_path(objects_dir: Path, sha256: str, original_name: str) -> Path:
    """Where the bytes with this hash live: ``objects/<aa>/<sha256><suffix>``."""
    suffix = PurePath(original_name).suffix.lower()[:8]
    return objects_dir / sha256[:2] / f"{sha256}{suffix}"


def store_object(objects_dir: Path, data: bytes, original_name: str) -> tuple[str, Path]:
    """Store bytes once under their SHA-256; return ``(sha256, path)``. Existing objects are kept."""
    sha256 = sha256_hex(data)
    path = object_path(objects_dir, sha256, original_name)
    if not path.exists():
        write_atomic(path, data)
    return sha256, path


def read_verified(path: Path, sha256: str) -> bytes:
    """Read an object and check that its bytes still match ``sha256``."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ObjectIntegrityError(f"raw copy {path} is missing from the object store") from None
    if sha256_hex(data) != sha256:
        raise ObjectIntegrityError(f"raw copy {path} does not match its hash {sha256[:12]}…; it was modified")
    return data


def quarantine(quarantine_dir: Path, *, run_key: str, original_name: str, data: bytes, error: str,
               source: str) -> Path:
    """Copy a bad file to ``quarantine/<run_key><suffix>`` with a ``.error.txt`` beside it."""
    target = quarantine_dir / f"{run_key}{PurePath(original_name).suffix.lower()}"
    write_atomic(target, data)
    note = (
        f"file:     {original_name}\n"
        f"source:   {source}\n"
        f"run key:  {run_key}\n"
        f"when:     {datetime.now(timezone.utc).isoformat(timespec='seconds')}\n\n"
        f"problem:\n{error}\n\n"
        "what to do: fix the file (or its sidecar) and drop it into the inbox again;\n"
        "corrected bytes become a new run. This copy is kept for reference.\n"
    )
    write_atomic(target.with_name(target.name + ".error.txt"), note.encode("utf-8"))
    return target
