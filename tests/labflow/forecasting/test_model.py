"""Features, training, forecasting and the backtest on a small real-looking workshop series."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from labflow.forecasting.backtest import backtest, rolling_origin_evaluation
from labflow.forecasting.demo import energy_csv
from labflow.forecasting.features import FeatureLayout, feature_matrix
from labflow.forecasting.history import EnergyHistory, read_history_csv
from labflow.forecasting.model import ForecastModel, ForecastRequestError
from tests.forecast_fixtures import FAST_PARAMS


def test_features_use_only_readings_up_to_the_origin():
    layout = FeatureLayout(3600, 24, ("temp",))
    values = np.arange(400, dtype=float)
    covariates = np.arange(400, dtype=float)[:, None] * 10
    rows, level = feature_matrix(layout, values, covariates, 0, np.array([200, 200]), np.array([1, 30]))
    named = dict(zip(layout.names, rows[1] * np.r_[np.ones(5), np.full(9, level[1]), 1, 1]))
    assert level[1] == pytest.approx(np.mean(values[33:201]))  # the week before the origin
    assert named["last"] == 200  # the reading at the origin
    assert named["same_time_last_day"] == 230 - 48  # 30 steps ahead: the latest whole day known is 2 days back
    assert named["same_time_last_week"] == 230 - 168
    assert named["temp_at_target"] == 10 * (230 - 48)  # not given: carried forward from the latest known day
    future = feature_matrix(layout, values[:201], covariates, 0, np.array([200]), np.array([30]),
                            covariates_given=True)[0]
    assert future[0][layout.names.index("temp_at_target")] == 2300  # given: the value at the target time
    changed = values.copy()
    changed[201:] = -1  # readings after the origin must not matter
    assert np.array_equal(feature_matrix(layout, changed, covariates, 0, np.array([200]), np.array([30]))[0],
                          rows[1:])


def test_forecast_has_the_horizon_an_ordered_interval_and_the_right_times(workshop_history, workshop_model):
    values, covariates = workshop_history.values[-168:], workshop_history.covariate_matrix()[-168:]
    last = workshop_history.frame["timestamp"][-1]
    hours = np.arange(24)
    plan = np.column_stack([np.full(24, 5.0), np.where((hours >= 7) & (hours < 18), 80.0, 0.0)])  # temp, production
    forecast = workshop_model.forecast(values, covariates, last, 24, future_covariates=plan)
    assert forecast.timestamps == [last + timedelta(hours=h) for h in range(1, 25)]
    assert np.all(forecast.lower <= forecast.predicted) and np.all(forecast.predicted <= forecast.upper)
    assert np.all(forecast.upper - forecast.lower > 0)
    # Monday 2024-02-12 00:00 on, with production planned from 7:00 to 18:00: the working day is higher
    assert forecast.predicted[10] > forecast.predicted[2] + 15
    unplanned = workshop_model.forecast(values, covariates, last, 24)  # Sunday's covariates carried forward
    assert unplanned.predicted[10] < forecast.predicted[10] - 10


def test_model_beats_the_seasonal_naive_forecast_with_a_calibrated_interval(workshop_history):
    evaluation = rolling_origin_evaluation(workshop_history, FAST_PARAMS, covariates_given=True)
    metrics = evaluation.metrics
    assert metrics["points"] > 150
    assert metrics["mae_ratio_vs_naive"] < 0.95
    assert 0.7 <= metrics["interval_coverage"] <= 1.0
    assert set(evaluation.points.columns) == {"origin", "timestamp", "step", "actual", "predicted", "lower",
                                              "upper", "naive"}


def test_a_line_using_half_the_energy_is_forecast_at_half(workshop_model):
    half = read_history_csv(energy_csv(2, seed=5, scale=0.5), source="half.csv")
    forecast = workshop_model.forecast(half.values[-168:], half.covariate_matrix()[-168:],
                                       half.frame["timestamp"][-1], 24)
    assert 0.35 < forecast.predicted.mean() / np.nanmean(half.values[-168:] * 2) < 0.65


def test_model_round_trips_through_bytes(workshop_history, workshop_model):
    loaded = ForecastModel.from_bytes(workshop_model.to_bytes())
    args = (workshop_history.values[-200:], workshop_history.covariate_matrix()[-200:],
            workshop_history.frame["timestamp"][-1], 12)
    assert np.allclose(loaded.forecast(*args).predicted, workshop_model.forecast(*args).predicted)
    assert loaded.layout == workshop_model.layout and loaded.margin == workshop_model.margin


def test_requests_the_model_cannot_serve_are_refused_clearly(workshop_model):
    with pytest.raises(ForecastRequestError, match=r"forecast_horizon must be 1–24 steps.*got 25"):
        workshop_model.check_request(500, 25)
    with pytest.raises(ForecastRequestError, match=r"too little history: 100 reading.*at least 168"):
        workshop_model.check_request(100, 24)


def test_training_on_too_short_a_history_says_how_much_is_needed():
    short = read_history_csv(energy_csv(1), source="short.csv")
    with pytest.raises(ForecastRequestError, match="too little history to train"):
        from labflow.forecasting.model import train_forecast_model
        train_forecast_model(short, FAST_PARAMS)


def test_backtest_scores_beside_the_naive_forecast_of_the_week_before(workshop_history: EnergyHistory,
                                                                      workshop_model: ForecastModel):
    result = backtest(workshop_model, workshop_history, first_origin=5 * 168)
    points = result.points.drop_nulls()
    first = points.row(0, named=True)
    index = int((first["timestamp"] - datetime(2024, 1, 1)).total_seconds() // 3600)
    assert first["naive"] == pytest.approx(workshop_history.values[index - 168])
    assert result.metrics["naive_mae"] == pytest.approx(float((points["naive"] - points["actual"]).abs().mean()))
