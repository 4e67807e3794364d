"""Run keys: the stable, readable partition key of an ingested file."""

from __future__ import annotations

import hashlib
import re
from pathlib import PurePath

HASH_CHARS = 10
_MAX_STEM = 48
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def sha256_hex(data: bytes) -> str:
    """SHA-256 of ``data`` as 64 hex digits."""
    return hashlib.sha256(data).hexdigest()


def sanitise_stem(name: str) -> str:
    """A file name's stem reduced to ``[A-Za-z0-9_-]``, safe in Dagster's UI, selections and URLs."""
    stem = PurePath(name).name
    for suffix in (".gz", ".csv", ".tsv", ".txt", ".dat"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    cleaned = _UNSAFE.sub("-", stem).strip("-_")
    return cleaned[:_MAX_STEM].rstrip("-_") or "file"


def make_run_key(name: str, sha256: str) -> str:
    """``<sanitised stem>-<first 10 hex digits of the content hash>``, e.g. ``hplc-run-7-3fa9c1d2e4``."""
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
    return f"{sanitise_stem(name)}-{sha256[:HASH_CHARS]}"
