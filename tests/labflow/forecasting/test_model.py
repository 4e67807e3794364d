"""Features, training, forecasting and the backtest on a small real-looking workshop series."""

from __future__ import annotations

import gzip
import json
from dataclasses import asdict
from datetime import datetime, timedelta

import numpy as np
import pytest

from labflow.forecasting.backtest import backtest, rolling_origin_evaluation
from labflow.forecasting.demo import energy_csv
from labflow.forecasting.features import FeatureLayout, extend_covariates, feature_matrix, training_pairs
from labflow.forecasting.history import EnergyHistory, read_history_csv
from labflow.forecasting.model import ForecastModel, ForecastRequestError, _fit
from tests.forecast_fixtures import FAST_PARAMS


def test_features_use_only_readings_up_to_the_origin():
    layout = FeatureLayout(3600, 24, ("temp",))
    values = np.arange(400, dtype=float)
    covariates = np.arange(400, dtype=float)[:, None] * 10
    rows, level = feature_matrix(layout, values, covariates, 0, np.array([200, 200]), np.array([1, 30]))
    named = dict(zip(layout.names, rows[1] * np.r_[np.ones(4), np.full(9, level[1]), 1, 1, 1]))
    assert level[1] == pytest.approx(np.mean(values[33:201]))  # the week before the origin
    assert named["last"] == 200  # the reading at the origin
    assert named["same_time_last_day"] == 230 - 48  # 30 steps ahead: the latest whole day known is 2 days back
    assert named["same_time_last_week"] == 230 - 168
    assert named["temp_at_target"] == 10 * (230 - 48)  # not given: carried forward from the latest known day
    assert named["temp_sent"] == 0
    weekly = FeatureLayout(3600, 24, ("temp",), fill_days=(7,))
    assert feature_matrix(weekly, values, covariates, 0, np.array([200]), np.array([30]))[0][0, 13] == 10 * (230 - 168)
    future = feature_matrix(layout, values[:201], covariates, 0, np.array([200]), np.array([30]),
                            covariates_given=True)[0]
    assert future[0][layout.names.index("temp_at_target")] == 2300  # given: the value at the target time
    assert future[0][layout.names.index("temp_sent")] == 1
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
    holiday = workshop_model.forecast(values, covariates, last, 24, future_covariates=plan * [1, 0])
    assert holiday.predicted[10] < forecast.predicted[10] - 10  # a sent plan is the plan, either way


def test_a_missing_weekday_plan_is_filled_from_the_same_hour_last_week(workshop_history, workshop_model):
    # production runs on working days only: yesterday's (Sunday's) plan says Monday is idle, last Monday's says
    # it works; the model chose last week for the plan and yesterday for the temperature (it drifts)
    assert workshop_model.layout.fill_days == (1, 7)
    assert workshop_model.info["covariate_fill"]["production"] == "same time one week earlier"
    values, covariates = workshop_history.values[-168:], workshop_history.covariate_matrix()[-168:]
    last = workshop_history.frame["timestamp"][-1]  # Sunday 2024-02-11 23:00
    extended, sent = extend_covariates(workshop_model.layout, covariates, None, 24)
    assert np.array_equal(extended[168:, 1], covariates[:24, 1])  # production of Monday 2024-02-05
    assert np.array_equal(extended[168:, 0], covariates[-24:, 0]) and not sent.any()  # temperature of Sunday
    unplanned = workshop_model.forecast(values, covariates, last, 24)
    assert unplanned.predicted[10] > unplanned.predicted[2] + 15  # a working day, not a second Sunday


def test_a_plan_sent_without_the_weather_is_used_and_the_weather_filled(workshop_history, workshop_model):
    values, covariates = workshop_history.values[-168:], workshop_history.covariate_matrix()[-168:]
    last = workshop_history.frame["timestamp"][-1]
    idle = np.column_stack([np.full(24, np.nan), np.zeros(24)])  # Monday planned idle, no temperature forecast
    unplanned = workshop_model.forecast(values, covariates, last, 24)
    holiday = workshop_model.forecast(values, covariates, last, 24, future_covariates=idle)
    assert holiday.predicted[10] < unplanned.predicted[10] - 10
    assert np.all(holiday.upper - holiday.lower > 0)


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
    assert loaded.layout == workshop_model.layout and loaded.margins == workshop_model.margins


def _format_1(model: ForecastModel, history: EnergyHistory) -> bytes:
    """A model as format 1 wrote it: boosters without the ``_sent`` features, one margin."""
    layout = FeatureLayout(model.layout.step_s, model.layout.horizon, model.layout.covariates, sent_flags=False,
                           day_of_year=True)
    origins, steps = training_pairs(layout, history.values, first=0, last=history.values.size - 2, max_rows=3_000)
    boosters = _fit(layout, model.params, history.values, history.covariate_matrix(), history.frame["timestamp"][0],
                    origins, steps)
    document = {"format": "labflow-forecast/1", "layout": {"step_s": layout.step_s, "horizon": layout.horizon,
                                                           "covariates": list(layout.covariates)},
                "params": asdict(model.params), "margin": 0.25, "trained_rows": int(origins.size),
                "trained_until": model.trained_until.isoformat(), "info": {},
                "boosters": {name: b.model_to_string() for name, b in boosters.items()}}
    return gzip.compress(json.dumps(document).encode())


def test_a_model_saved_in_format_1_is_still_served_as_it_was_trained(workshop_history, workshop_model):
    old = ForecastModel.from_bytes(_format_1(workshop_model, workshop_history))
    assert old.layout.names == [*workshop_model.layout.names[:4], "day_of_year",
                                *(n for n in workshop_model.layout.names[4:] if not n.endswith("_sent"))]
    assert old.layout.fill_days == (1, 1) and old.margins == {"sent": 0.25, "filled": 0.25}
    values, covariates = workshop_history.values[-168:], workshop_history.covariate_matrix()[-168:]
    forecast = old.forecast(values, covariates, workshop_history.frame["timestamp"][-1], 24)
    assert forecast.predicted.shape == (24,) and np.all(forecast.lower <= forecast.upper)
    with pytest.raises(ValueError, match="retrain"):
        old.to_bytes()


def test_a_model_file_of_an_unknown_format_is_refused_with_what_to_do():
    document = gzip.compress(json.dumps({"format": "labflow-forecast/9"}).encode())
    with pytest.raises(ValueError, match=r"format 'labflow-forecast/9'.*reads labflow-forecast/2.*retrain the asset"):
        ForecastModel.from_bytes(document)


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
