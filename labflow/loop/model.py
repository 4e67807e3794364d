"""The anomaly model: LightGBM on window features, stored as bytes (LightGBM's text model format).

:func:`train_model` fits a binary classifier (anomalous vs normal window) with small trees suited to a
few hundred labels and one thread; given the previous iteration's model (``init_model``) it continues
boosting from it on the new labels only. :func:`predict` gives each window's probability of an anomaly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from labflow.loop.training_set import check_trainable
from labflow.loop.windows import FEATURES

PARAMS = {"objective": "binary", "learning_rate": 0.1, "num_leaves": 15, "min_data_in_leaf": 3,
          "min_sum_hessian_in_leaf": 1e-3, "feature_fraction": 0.9, "bagging_fraction": 1.0,
          "lambda_l2": 1.0, "num_threads": 1, "verbose": -1, "deterministic": True}
ROUNDS = 120
CONTINUE_ROUNDS = 40


@dataclass(frozen=True)
class TrainedModel:
    """A trained model's bytes and what it was trained on."""

    model: bytes
    windows: int
    anomalies: int
    rounds: int
    continued: bool

    def summary(self) -> dict[str, int | bool]:
        return {"windows": self.windows, "anomalies": self.anomalies, "rounds": self.rounds,
                "continued": self.continued}


def train_model(training_set: pl.DataFrame, *, init_model: bytes | None = None, seed: int = 0,
                rounds: int | None = None) -> TrainedModel:
    """Fit the anomaly model on ``training_set`` (``label`` + :data:`FEATURES`), or continue ``init_model``."""
    import lightgbm as lgb

    check_trainable(training_set)
    data = lgb.Dataset(features(training_set), label=training_set["label"].to_numpy().astype(np.float64),
                       params={"feature_pre_filter": False, "min_data_in_bin": 1, "verbose": -1},
                       feature_name=list(FEATURES))
    start = lgb.Booster(model_str=init_model.decode()) if init_model else None
    count = rounds or (CONTINUE_ROUNDS if start is not None else ROUNDS)
    booster = lgb.train({**PARAMS, "seed": seed}, data, num_boost_round=count, init_model=start)
    return TrainedModel(booster.model_to_string().encode(), training_set.height, int(training_set["label"].sum()),
                        booster.current_iteration(), start is not None)


def predict(model: bytes, windows: pl.DataFrame) -> np.ndarray:
    """Probability that each window holds an anomaly."""
    import lightgbm as lgb

    if windows.height == 0:
        return np.zeros(0)
    booster = lgb.Booster(model_str=model.decode())
    return np.asarray(booster.predict(features(windows), num_threads=1), dtype=np.float64)


def features(windows: pl.DataFrame) -> np.ndarray:
    """The feature matrix of the windows (columns in :data:`FEATURES` order)."""
    missing = [name for name in FEATURES if name not in windows.columns]
    if missing:
        raise ValueError(f"the windows lack feature column(s) {', '.join(missing)}; build them with series_windows")
    return windows.select(FEATURES).to_numpy().astype(np.float64)
