"""Energy histories for the forecasting tests (the generator is the demo's, :mod:`labflow.forecasting.demo`)."""

from __future__ import annotations

import polars as pl

from labflow.forecasting.demo import energy_csv, energy_frame  # noqa: F401  (re-exported for the tests)
from labflow.forecasting.model import ForecastParams

FAST_PARAMS = ForecastParams(horizon=24, n_estimators=40, max_train_rows=6_000, num_threads=1)


def points(frame: pl.DataFrame) -> list[dict]:
    """Rows as request points (ISO timestamps)."""
    return [{**row, "timestamp": row["timestamp"].isoformat()} for row in frame.iter_rows(named=True)]


def readings(frame: pl.DataFrame) -> list[dict]:
    """Rows as the readings the serving functions take (datetime timestamps)."""
    return list(frame.iter_rows(named=True))
