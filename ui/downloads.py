"""Files to download: a run's cleaned series and the confirmed dataset, as CSV and Parquet."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl

from labflow.store.outputs import OutputStore


def cleaned_series_files(outputs: OutputStore, run_key: str, folder: Path) -> list[Path]:
    """``<run>.clean_series.csv`` and ``.parquet`` in ``folder``, rebuilt only when the stored series changed."""
    source = outputs.local_path("clean_series", run_key)
    parquet = folder / f"{run_key}.clean_series.parquet"
    csv = folder / f"{run_key}.clean_series.csv"
    if not _fresh(parquet, source):
        shutil.copyfile(source, parquet)
    if not _fresh(csv, source):
        _write_csv(pl.read_parquet(source), csv)
    return [csv, parquet]


def dataset_files(frame: pl.DataFrame, digest: str, folder: Path) -> list[Path]:
    """``confirmed_dataset-<digest>.csv`` and ``.parquet`` (a version never changes, so they are written once)."""
    parquet = folder / f"confirmed_dataset-{digest}.parquet"
    csv = folder / f"confirmed_dataset-{digest}.csv"
    if not parquet.exists():
        frame.write_parquet(parquet)
    if not csv.exists():
        _write_csv(frame, csv)
    return [csv, parquet]


def _fresh(target: Path, source: Path) -> bool:
    return target.exists() and target.stat().st_mtime_ns >= source.stat().st_mtime_ns


def _write_csv(frame: pl.DataFrame, path: Path) -> None:
    """CSV written beside its final name and renamed, so a half-written file is never offered."""
    partial = path.with_suffix(".csv.part")
    frame.write_csv(partial)
    partial.replace(path)
