"""The newest version of the confirmed dataset, as the optimisers read it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
import polars as pl

from labflow.review.confirmed import DATASET_ASSET, dataset_digest
from labflow.store.outputs import MissingOutputError, OutputStore
from lab_assets.gateway import DagsterGateway

SHOWN_COLUMNS = ("run_key", "experiment_id", "objective", "objective_kind", "verdict", "peak_count",
                 "annotation_version", "confirmed_by", "confirmed_at", "instrument", "operator", "material",
                 "inputs")


@dataclass(frozen=True)
class DatasetVersion:
    """One materialized version of ``confirmed_dataset``."""

    frame: pl.DataFrame
    digest: str
    path: Path
    materialized_at: datetime | None
    run_id: str | None

    @property
    def summary(self) -> str:
        when = f" · materialized {self.materialized_at:%Y-%m-%d %H:%M:%S} UTC" if self.materialized_at else ""
        run = f" by Dagster run {self.run_id[:8]}" if self.run_id else ""
        return f"Version **{self.digest}** · {self.frame.height} confirmed run(s){when}{run}"


def latest_dataset(gateway: DagsterGateway, outputs: OutputStore) -> DatasetVersion | None:
    """The newest ``confirmed_dataset`` materialization (its ``path`` metadata), or ``None`` before the first."""
    materialization = gateway.latest(DATASET_ASSET)
    if materialization is None:
        return None
    try:
        path = outputs.local_path(DATASET_ASSET, "latest")
    except MissingOutputError:
        return None
    frame = pl.read_parquet(path)
    digest = str(materialization.metadata.get("digest") or dataset_digest(frame))
    return DatasetVersion(frame, digest, path, materialization.timestamp, materialization.run_id)


def dataset_table(version: DatasetVersion | None) -> pd.DataFrame:
    """The dataset as shown in the app (times readable, objective rounded)."""
    if version is None or version.frame.height == 0:
        return pd.DataFrame(columns=list(SHOWN_COLUMNS))
    frame = version.frame.select([c for c in SHOWN_COLUMNS if c in version.frame.columns])
    rows = [[_cell(value) for value in row] for row in frame.iter_rows()]
    return pd.DataFrame(rows, columns=frame.columns)


def _cell(value: object) -> object:
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    if isinstance(value, float):
        return round(value, 6)
    return "" if value is None else value
