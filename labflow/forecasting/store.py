"""Where the forecasting assets keep their outputs: the output store, one entry per asset id (and model)."""

from __future__ import annotations

import re

import polars as pl

from labflow.forecasting.history import EnergyHistory, HistoryReport
from labflow.forecasting.model import ForecastModel
from labflow.forecasting.registry import ModelVersion
from labflow.store.outputs import OutputStore

HISTORY_ASSET = "energy_history"
MODEL_ASSET = "forecast_model"
EVALUATION_ASSET = "forecast_evaluation"
MODEL_EXT = "json.gz"
ASSET_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def check_asset_id(asset_id: str) -> str:
    """Return the id if it can name a partition (letters, digits, ``.``, ``_``, ``-``; up to 100), else raise."""
    if not ASSET_ID.match(asset_id or ""):
        raise ValueError(f"asset id {asset_id!r} must be 1–100 letters, digits, '.', '_' or '-', starting with a "
                         "letter or digit (e.g. line-3 or workshop_b)")
    return asset_id


def save_history(outputs: OutputStore, asset_id: str, history: EnergyHistory, data_url: str) -> str:
    """Store the checked history and what is known about it; returns the frame's path."""
    path = outputs.write_frame(HISTORY_ASSET, asset_id, history.frame)
    outputs.write_json(HISTORY_ASSET, asset_id, {"step_s": history.step_s, "covariates": list(history.covariates),
                                                 "data_hash": history.data_hash, "data_url": data_url,
                                                 "report": history.report.as_metadata()})
    return str(path)


def load_history(outputs: OutputStore, asset_id: str) -> tuple[EnergyHistory, dict]:
    """The stored history of an asset and its description (data hash, URL, report)."""
    frame = outputs.read_frame(HISTORY_ASSET, asset_id)
    info = outputs.read_json(HISTORY_ASSET, asset_id)
    timestamps = frame["timestamp"].drop_nulls()
    report = HistoryReport(readings=int(frame["value"].is_not_null().sum()), start=timestamps[0],
                           end=timestamps[-1], step_s=int(info["step_s"]))
    history = EnergyHistory(frame, int(info["step_s"]), tuple(info["covariates"]), report, info["data_hash"])
    return history, info


def model_key(asset_id: str, run_id: str) -> str:
    return f"{asset_id}-{run_id}"


def save_model(outputs: OutputStore, key: str, model: ForecastModel) -> str:
    return str(outputs.write_bytes(MODEL_ASSET, key, MODEL_EXT, model.to_bytes()))


def load_model(outputs: OutputStore, version: ModelVersion) -> ForecastModel:
    """The trained model of a registered version."""
    return ForecastModel.from_bytes(outputs.read_bytes(MODEL_ASSET, version.model_key, MODEL_EXT))


def save_backtest(outputs: OutputStore, key: str, points: pl.DataFrame) -> str:
    return str(outputs.write_frame(EVALUATION_ASSET, key, points))


def load_backtest(outputs: OutputStore, version: ModelVersion) -> pl.DataFrame:
    """The backtest points (actual, predicted, interval, naive) of a version."""
    return outputs.read_frame(EVALUATION_ASSET, version.model_key)
