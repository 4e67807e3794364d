"""Helpers for the forecasting tests; the energy histories themselves come from :mod:`labflow.forecasting.demo`."""

from __future__ import annotations

import polars as pl

from labflow.forecasting.model import ForecastParams

FAST_PARAMS = ForecastParams(horizon=24, n_estimators=40, max_train_rows=6_000, num_threads=1)


def points(frame: pl.DataFrame) -> list[dict]:
    """Rows as request points (ISO timestamps)."""
    return [{**row, "timestamp": row["timestamp"].isoformat()} for row in frame.iter_rows(named=True)]


def readings(frame: pl.DataFrame) -> list[dict]:
    """Rows as the readings the serving functions take (datetime timestamps)."""
    return list(frame.iter_rows(named=True))
