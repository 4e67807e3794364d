"""Asset outputs on disk: one Parquet (or JSON/PNG) file per asset and run key, written atomically."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from labflow.objects import write_atomic

if TYPE_CHECKING:
    from labflow.settings import Settings


class MissingOutputError(LookupError):
    """An upstream output a step needs has not been materialized yet."""


class OutputStore:
    """``storage/<asset>/<run_key>.<ext>`` under the data directory."""

    def __init__(self, root: Path):
        self.root = root

    def path(self, asset: str, run_key: str, ext: str = "parquet") -> Path:
        return self.root / asset / f"{run_key}.{ext}"

    def write_frame(self, asset: str, run_key: str, frame: pl.DataFrame) -> Path:
        """Write a frame as Parquet (zstd) and return its path."""
        buffer = io.BytesIO()
        frame.write_parquet(buffer, compression="zstd", statistics=False)
        path = self.path(asset, run_key)
        write_atomic(path, buffer.getvalue())
        return path

    def read_frame(self, asset: str, run_key: str) -> pl.DataFrame:
        """Read a frame written by :meth:`write_frame`, or say which step must run first."""
        path = self.path(asset, run_key)
        if not path.exists():
            raise MissingOutputError(f"{asset} of run {run_key} is not materialized yet; materialize it first")
        return pl.read_parquet(path)

    def write_json(self, asset: str, run_key: str, data: dict[str, Any]) -> Path:
        path = self.path(asset, run_key, "json")
        write_atomic(path, json.dumps(data, indent=2, sort_keys=True, default=str).encode())
        return path

    def read_json(self, asset: str, run_key: str) -> dict[str, Any]:
        path = self.path(asset, run_key, "json")
        if not path.exists():
            raise MissingOutputError(f"{asset} of run {run_key} is not materialized yet; materialize it first")
        return json.loads(path.read_text())

    def write_bytes(self, asset: str, run_key: str, ext: str, data: bytes) -> Path:
        path = self.path(asset, run_key, ext)
        write_atomic(path, data)
        return path

    def read_bytes(self, asset: str, run_key: str, ext: str) -> bytes:
        """Bytes written by :meth:`write_bytes`, or say which step must run first."""
        path = self.path(asset, run_key, ext)
        if not path.exists():
            raise MissingOutputError(f"{asset} of run {run_key} is not materialized yet; materialize it first")
        return path.read_bytes()

    def local_path(self, asset: str, run_key: str, ext: str = "parquet") -> Path:
        """A local file with the output's bytes, for readers that need a path (scans, downloads)."""
        path = self.path(asset, run_key, ext)
        if not path.exists():
            raise MissingOutputError(f"{asset} of run {run_key} is not materialized yet; materialize it first")
        return path

    def exists(self, asset: str, run_key: str, ext: str = "parquet") -> bool:
        return self.path(asset, run_key, ext).exists()


def open_output_store(settings: "Settings") -> OutputStore:
    """The output store the settings point at (the data directory's ``storage/`` by default)."""
    return OutputStore(settings.storage)
