"""The object store (immutable, content-addressed raw copies) and the quarantine folder."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

from labflow.store.atomic import write_atomic
from labflow.store.blobstore import BlobMissing, BlobStore, open_blob_store
from labflow.keys import sha256_hex

if TYPE_CHECKING:
    from labflow.settings import Settings


class ObjectIntegrityError(RuntimeError):
    """A stored object is missing or its bytes no longer match its hash."""


def object_key(sha256: str, original_name: str) -> str:
    """Where the bytes with this hash live below the objects area: ``<aa>/<sha256><suffix>``."""
    suffix = PurePath(original_name).suffix.lower()[:8]
    return f"{sha256[:2]}/{sha256}{suffix}"


class ObjectStore:
    """Immutable raw copies, stored once under their SHA-256 on a :class:`~labflow.store.blobstore.BlobStore`."""

    def __init__(self, blobs: BlobStore):
        self.blobs = blobs

    def store(self, data: bytes, original_name: str) -> tuple[str, str]:
        """Store bytes once; return ``(sha256, location)``. Existing objects are kept as they are."""
        sha256 = sha256_hex(data)
        key = object_key(sha256, original_name)
        if not self.blobs.exists(key):
            self.blobs.put(key, data)
        return sha256, self.blobs.location(key)

    def read_verified(self, location: str, sha256: str) -> bytes:
        """Read an object and check that its bytes still match ``sha256``."""
        try:
            data = self.blobs.read_location(location)
        except BlobMissing:
            raise ObjectIntegrityError(f"raw copy {location} is missing from the object store") from None
        if sha256_hex(data) != sha256:
            raise ObjectIntegrityError(f"raw copy {location} does not match its hash {sha256[:12]}…; it was modified")
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


def open_object_store(settings: Settings) -> ObjectStore:
    """Raw copies where the settings say: ``LABFLOW_HOME/objects`` or ``<LABFLOW_OBJECT_STORE>/objects``."""
    return ObjectStore(open_blob_store(settings.home, settings.object_store, "objects",
                                       endpoint_url=settings.s3_endpoint_url))
