"""Uploading a file into the inbox (debugging, offline use): safe names, a size limit, content sniffing.

Nothing is written unless every check passes; the file (and its optional metadata sidecar, first)
is then written atomically into the inbox, where the inbox sensor picks it up like any dropped file.

Example::

    upload = accept_upload(settings, "run 7.csv", data, instrument="hplc-01")
    upload.run_key        # 'run-7-3fa9c1d2e4', the key the run will get
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labflow.store.catalog import Catalog
from labflow.ingest.inbox import is_ignored
from labflow.keys import make_run_key, sha256_hex
from labflow.ingest.metadata import MetadataError, parse_sidecar
from labflow.store.atomic import write_atomic
from labflow.processing.parsing import ParseError, parse_instrument_csv
from labflow.settings import Settings

SNIFF_BYTES = 1_048_576
"""Bytes from the start of a file that must parse as an instrument table."""
_MAX_NAME = 200
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class UploadRejected(ValueError):
    """An upload refused before anything was written; ``status`` is the HTTP status that fits."""

    def __init__(self, message: str, *, status: int = 422):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Upload:
    """An accepted upload: where it waits in the inbox and the run key it will get."""

    run_key: str
    file_name: str
    relative_path: str
    sha256: str
    size_bytes: int
    duplicate: bool  # the same bytes are already a run (the sensor records a duplicate)


def sanitise_filename(name: str) -> str:
    """The file name to write: no folders, no ``..``, no control characters; or :class:`UploadRejected`."""
    if not name or not name.strip():
        raise UploadRejected("the upload has no file name; send the file with its name (e.g. run_7.csv)", status=400)
    if "\x00" in name or any(unicodedata.category(c) == "Cc" for c in name):
        raise UploadRejected(f"file name {name!r} contains control characters; rename the file", status=400)
    if ".." in re.split(r"[/\\]", name):
        raise UploadRejected(f"file name {name!r} points outside the inbox ('..'); send a plain file name",
                             status=400)
    base = re.split(r"[/\\]", name)[-1].strip()
    if not base or base in (".", ".."):
        raise UploadRejected(f"file name {name!r} has no file part; send a plain file name", status=400)
    if len(base) > _MAX_NAME:
        raise UploadRejected(f"file name is {len(base)} characters long; the limit is {_MAX_NAME}", status=400)
    if is_ignored(base):
        raise UploadRejected(f"file name {base!r} is a hidden, temporary or sidecar name that the inbox ignores; "
                             "rename the file", status=400)
    return base


def check_size(size: int, limit: int) -> None:
    """Refuse empty files and files over ``limit`` bytes."""
    if size == 0:
        raise UploadRejected("the file is empty (0 bytes); the export probably failed, export the data again")
    if size > limit:
        raise UploadRejected(f"the file is {size:,} bytes; uploads are limited to {limit:,} bytes "
                             "(LABFLOW_UPLOAD_MAX_MB). Drop large files into the inbox folder instead", status=413)


def sniff_content(data: bytes, name: str) -> None:
    """Refuse what is not an instrument table: binary, undecodable, or no delimited numbers in the head.

    The first :data:`SNIFF_BYTES` (cut at a line end) must parse with :func:`labflow.processing.parsing.parse_instrument_csv`;
    the rest may not contain NUL bytes (except UTF-16 text, where they are part of the encoding).
    """
    try:
        parsed = parse_instrument_csv(_head(data), name=name)
    except ParseError as error:
        raise UploadRejected(f"not an instrument table: {error}", status=415) from None
    if parsed.encoding != "utf-16" and b"\x00" in data:
        line = data.count(b"\n", 0, data.index(b"\x00")) + 1
        raise UploadRejected(f"{name}: line {line} contains NUL bytes; this looks like a binary file, not a CSV "
                             "text export", status=415)


def check_instrument(instrument: str | None) -> str | None:
    """An instrument folder name (one safe path segment), or ``None``."""
    if instrument is None or instrument == "":
        return None
    if not _SEGMENT.match(instrument):
        raise UploadRejected(f"instrument {instrument!r} must be letters, digits or . _ - "
                             "(it names a folder in the inbox)", status=400)
    return instrument


def check_metadata(metadata: str | None, name: str) -> dict[str, Any] | None:
    """The sidecar fields given with an upload (a JSON object), validated like a sidecar file."""
    if metadata is None or not metadata.strip():
        return None
    try:
        parse_sidecar(f"{name}.meta.json", metadata)
    except MetadataError as error:
        raise UploadRejected(f"metadata: {error}") from None
    return json.loads(metadata)


def accept_upload(settings: Settings, name: str, data: bytes, *, instrument: str | None = None,
                  metadata: str | None = None, catalog: Catalog | None = None) -> Upload:
    """Check an uploaded file and write it (and its sidecar) into the inbox; nothing is written on refusal.

    A different file of the same name still waiting in the inbox is a conflict (409), never overwritten.
    """
    file_name = sanitise_filename(name)
    folder = check_instrument(instrument)
    sidecar = check_metadata(metadata, file_name)
    check_size(len(data), settings.upload_max_bytes)
    sniff_content(data, file_name)
    sha256 = sha256_hex(data)
    relative = f"{folder}/{file_name}" if folder else file_name
    target = settings.inbox / relative
    same_bytes = _same_file(target, data)
    if target.exists() and not same_bytes:
        raise UploadRejected(f"a different file named {relative} is waiting in the inbox; rename your file "
                             "or wait until the waiting one is processed", status=409)
    existing = catalog.find_run_by_sha256(sha256) if catalog is not None else None
    if not same_bytes:
        if sidecar is not None:
            write_atomic(target.with_name(file_name + ".meta.json"), json.dumps(sidecar, indent=2).encode())
        write_atomic(target, data)
    run_key = existing.run_key if existing else make_run_key(file_name, sha256)
    return Upload(run_key, file_name, relative, sha256, len(data), existing is not None)


def _same_file(path: Path, data: bytes) -> bool:
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except FileNotFoundError:
        return False


def _head(data: bytes) -> bytes:
    """At most :data:`SNIFF_BYTES` from the start, cut after the last complete line (UTF-16 safe)."""
    if len(data) <= SNIFF_BYTES:
        return data
    head = data[:SNIFF_BYTES]
    cut = head.rfind(b"\n") + 1
    if 0 < cut < len(head) and head[cut] == 0:  # UTF-16-LE: the newline's second byte
        cut += 1
    return head[:cut] if cut else head
