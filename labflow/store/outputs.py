"""Asset outputs: one Parquet (or JSON/PNG/model) blob per asset and run key, on local disk or S3."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from labflow.store.blobstore import BlobMissing, BlobStore, LocalBlobStore, open_blob_store

if TYPE_CHECKING:
    from labflow.settings import Settings


class MissingOutputError(LookupError):
    """An upstream output a step needs has not been materialized yet."""


class OutputStore:
    """``storage/<asset>/<run_key>.<ext>`` in the data directory or under ``LABFLOW_OBJECT_STORE``."""

    def __init__(self, root: Path | BlobStore):
        self.blobs: BlobStore = LocalBlobStore(root) if isinstance(root, Path) else root

    @staticmethod
    def key(asset: str, run_key: str, ext: str = "parquet") -> str:
        return f"{asset}/{run_key}.{ext}"

    def location(self, asset: str, run_key: str, ext: str = "parquet") -> str:
        """The path or ``s3://`` URL of an output, for materialization metadata."""
        return self.blobs.location(self.key(asset, run_key, ext))

    def write_frame(self, asset: str, run_key: str, frame: pl.DataFrame) -> str:
        """Write a frame as Parquet (zstd) and return its location."""
        buffer = io.BytesIO()
        frame.write_parquet(buffer, compression="zstd", statistics=False)
        return self.write_bytes(asset, run_key, "parquet", buffer.getvalue())

    def read_frame(self, asset: str, run_key: str) -> pl.DataFrame:
        """Read a frame written by :meth:`write_frame`, or say which step must run first."""
        return pl.read_parquet(self.read_bytes(asset, run_key, "parquet"))

    def write_json(self, asset: str, run_key: str, data: dict[str, Any]) -> str:
        return self.write_bytes(asset, run_key, "json",
                                json.dumps(data, indent=2, sort_keys=True, default=str).encode())

    def read_json(self, asset: str, run_key: str) -> dict[str, Any]:
        return json.loads(self.read_bytes(asset, run_key, "json"))

    def write_bytes(self, asset: str, run_key: str, ext: str, data: bytes) -> str:
        """Store ``data`` atomically and return its location."""
        return self.blobs.put(self.key(asset, run_key, ext), data)

    def read_bytes(self, asset: str, run_key: str, ext: str) -> bytes:
        """Bytes written by :meth:`write_bytes`, or say which step must run first."""
        try:
            return self.blobs.get(self.key(asset, run_key, ext))
        except BlobMissing:
            raise _missing(asset, run_key) from None

    def local_path(self, asset: str, run_key: str, ext: str = "parquet") -> Path:
        """A local file with the output's bytes, for readers that need a path (scans, downloads)."""
        try:
            return self.blobs.local_copy(self.key(asset, run_key, ext))
        except BlobMissing:
            raise _missing(asset, run_key) from None

    def run_keys(self, asset: str, ext: str = "parquet") -> list[str]:
        """The run keys with a stored ``asset`` output of this extension, sorted."""
        suffix = f".{ext}"
        return [key.split("/", 1)[1][:-len(suffix)] for key in self.blobs.keys(f"{asset}/") if key.endswith(suffix)]

    def exists(self, asset: str, run_key: str, ext: str = "parquet") -> bool:
        return self.blobs.exists(self.key(asset, run_key, ext))


def _missing(asset: str, run_key: str) -> MissingOutputError:
    return MissingOutputError(f"{asset} of run {run_key} is not materialized yet; materialize it first")


def open_output_store(settings: Settings) -> OutputStore:
    """Asset outputs where the settings say: ``LABFLOW_HOME/storage`` or ``<LABFLOW_OBJECT_STORE>/storage``."""
    return OutputStore(open_blob_store(settings.home, settings.object_store, "storage",
                                       endpoint_url=settings.s3_endpoint_url))
