"""Rolling-origin backtest: forecast the held-out span origin by origin (e.g. every day, 24 h ahead) with a
model trained before it, and score it beside the seasonal-naive forecast (same time one week earlier)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import polars as pl

from labflow.forecasting.history import EnergyHistory
from labflow.forecasting.model import ForecastModel, ForecastParams, train_forecast_model


@dataclass(frozen=True)
class Backtest:
    """Every forecast point of the backtest (origin, time, step, actual, predicted, lower, upper, naive)
    and the scores."""

    points: pl.DataFrame
    metrics: dict[str, float]


def backtest(model: ForecastModel, history: EnergyHistory, *, first_origin: int, every: int | None = None,
             horizon: int | None = None, covariates_given: bool = False) -> Backtest:
    """Forecast ``horizon`` steps from every ``every``-th origin from ``first_origin`` on (one batched call).

    ``covariates_given`` uses the recorded covariates at the forecast times (as a perfect weather
    forecast would); by default they are filled as a request that does not send them (same hour yesterday
    or last week, as the model chose per covariate).
    """
    layout = model.layout
    every = every or layout.steps_per_day
    horizon = horizon or layout.horizon
    values = history.values
    first_origin = max(first_origin, layout.min_history - 1)
    origins = np.arange(first_origin, values.size - 1, every)
    pair_origins = np.repeat(origins, horizon)
    pair_steps = np.tile(np.arange(1, horizon + 1), origins.size)
    keep = pair_origins + pair_steps < values.size
    pair_origins, pair_steps = pair_origins[keep], pair_steps[keep]
    start = history.frame["timestamp"][0]
    predicted, lower, upper = model.predict_pairs(values, history.covariate_matrix(), start, pair_origins,
                                                  pair_steps, covariates_given=covariates_given)
    targets = pair_origins + pair_steps
    step = timedelta(seconds=layout.step_s)
    points = pl.DataFrame({
        "origin": [start + step * int(o) for o in pair_origins], "timestamp": [start + step * int(t) for t in targets],
        "step": pair_steps, "actual": values[targets], "predicted": predicted, "lower": lower, "upper": upper,
        "naive": values[targets - layout.steps_per_week]}, schema_overrides={"step": pl.Int32}).fill_nan(None)
    return Backtest(points, score(points, model.params.interval))


def rolling_origin_evaluation(history: EnergyHistory, params: ForecastParams, *, holdout_fraction: float = 0.2,
                              covariates_given: bool = False) -> Backtest:
    """Train on the older part of the history and backtest the newest ``holdout_fraction``, day by day."""
    size = history.frame.height
    first_origin = int(size * (1 - holdout_fraction))
    model = train_forecast_model(history, params, until=first_origin + 1)
    return backtest(model, history, first_origin=first_origin, covariates_given=covariates_given)


COVERAGE_TOLERANCE = 0.10  # an interval covering further than this from its nominal share is flagged


def quality_warnings(metrics: dict[str, Any]) -> list[str]:
    """Why a backtest's model should not be trusted, in words: worse than the seasonal-naive forecast,
    or an interval whose coverage is far from nominal. Empty when neither.

    >>> quality_warnings({"mae_ratio_vs_naive": 1.08, "interval_coverage": 0.55, "interval_nominal": 0.9})
    ['worse than the seasonal-naive forecast (MAE 1.08 × naive)', 'the 90 % interval holds 55 % of the actuals']
    """
    warnings = []
    ratio = metrics.get("mae_ratio_vs_naive")
    if isinstance(ratio, float) and ratio >= 1.0:
        warnings.append(f"worse than the seasonal-naive forecast (MAE {ratio:.2f} × naive)")
    coverage, nominal = metrics.get("interval_coverage"), metrics.get("interval_nominal")
    if isinstance(coverage, float) and isinstance(nominal, float) and abs(coverage - nominal) > COVERAGE_TOLERANCE:
        warnings.append(f"the {nominal:.0%} interval holds {coverage:.0%} of the actuals".replace("%", " %"))
    return warnings


def score(points: pl.DataFrame, interval: float) -> dict[str, Any]:
    """MAE, MAPE and interval coverage of the forecast beside the seasonal-naive MAE and MAPE, and the
    :func:`quality_warnings` they raise."""
    scored = points.drop_nulls(["actual", "predicted", "naive"])
    if scored.height == 0:
        return {"points": 0}
    actual = scored["actual"].to_numpy()
    error = np.abs(scored["predicted"].to_numpy() - actual)
    naive_error = np.abs(scored["naive"].to_numpy() - actual)
    nonzero = np.abs(actual) > 1e-9
    inside = (actual >= scored["lower"].to_numpy()) & (actual <= scored["upper"].to_numpy())
    mae, naive_mae = float(error.mean()), float(naive_error.mean())
    metrics: dict[str, Any] = {
        "points": scored.height, "mae": mae, "naive_mae": naive_mae,
        "mae_ratio_vs_naive": mae / naive_mae if naive_mae > 0 else float("nan"),
        "mape_pct": float(100 * np.mean(error[nonzero] / np.abs(actual[nonzero]))) if nonzero.any() else None,
        "naive_mape_pct": (float(100 * np.mean(naive_error[nonzero] / np.abs(actual[nonzero])))
                           if nonzero.any() else None),
        "interval_coverage": float(inside.mean()), "interval_nominal": interval,
        "interval_mean_width": float((scored["upper"] - scored["lower"]).mean()),
    }
    return {**metrics, "warnings": quality_warnings(metrics)}
