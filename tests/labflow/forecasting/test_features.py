"""A forecast request's rows (:func:`forecast_rows`) equal the training rows (:func:`feature_matrix`), exactly."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from labflow.forecasting.features import FeatureLayout, extend_covariates, feature_matrix, forecast_rows

NS = 1_000_000_000


def _rows_both_ways(layout: FeatureLayout, values: np.ndarray, covariates: np.ndarray, start_ns: int,
                    horizon: int, future: np.ndarray | None
                    ) -> tuple[tuple[np.ndarray, float], tuple[np.ndarray, np.ndarray]]:
    extended, sent = extend_covariates(layout, covariates, future, horizon)
    origin = values.size - 1
    return (forecast_rows(layout, values, extended, start_ns, horizon, sent),
            feature_matrix(layout, values, extended, start_ns, np.full(horizon, origin), np.arange(1, horizon + 1),
                           covariates_given=sent))


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), step_s=st.sampled_from([3600, 900]), horizon=st.integers(1, 200),
       extra=st.integers(0, 300), k=st.integers(0, 3), missing=st.sampled_from([0.0, 0.1, 0.6, 0.97, 1.0]),
       scale=st.sampled_from([0.0, 1e-12, 1.0, 3e4]), start_step=st.integers(0, 10**6),
       sent_share=st.sampled_from([None, 0.0, 0.5, 1.0]), sent_flags=st.booleans())
def test_forecast_rows_equal_the_training_rows(seed, step_s, horizon, extra, k, missing, scale, start_step,
                                               sent_share, sent_flags):
    rng = np.random.default_rng(seed)
    fill_days = tuple(int(d) for d in rng.choice([1, 7], k)) if sent_flags else ()
    layout = FeatureLayout(step_s, 672, tuple(f"c{i}" for i in range(k)), fill_days, sent_flags,
                           day_of_year=not sent_flags)  # format 2 / format 1
    size = layout.min_history + extra
    values = rng.gamma(2.0, 10.0, size) * scale
    values[rng.random(size) < missing] = np.nan
    covariates = rng.normal(5, 3, (size, k))
    covariates[rng.random((size, k)) < missing] = np.nan
    future = None
    if sent_share is not None:  # a request's future_covariates: some cells sent, the others NaN
        future = np.where(rng.random((horizon, k)) < sent_share, rng.normal(5, 3, (horizon, k)), np.nan)
    start_ns = (1_500_000_000 + start_step * step_s) * NS
    (fast, fast_level), (rows, level) = _rows_both_ways(layout, values, covariates, start_ns, horizon, future)
    assert fast.shape == rows.shape == (horizon, len(layout.names))
    assert np.array_equal(fast, rows, equal_nan=True)
    assert fast_level == level[0] and np.all(level == level[0])


def test_a_forecast_is_the_batched_prediction_of_its_origin(workshop_history, workshop_model):
    values, covariates = workshop_history.values[-200:], workshop_history.covariate_matrix()[-200:]
    last = workshop_history.frame["timestamp"][-1]
    forecast = workshop_model.forecast(values, covariates, last, 24)
    start = last - timedelta(hours=199)
    extended, sent = extend_covariates(workshop_model.layout, covariates, None, 24)
    batched = workshop_model.predict_pairs(values, extended, start, np.full(24, 199), np.arange(1, 25),
                                           covariates_given=sent)
    for ours, theirs in zip((forecast.predicted, forecast.lower, forecast.upper), batched):
        assert np.array_equal(ours, theirs)
    assert forecast.timestamps == [last + timedelta(hours=h) for h in range(1, 25)]
    assert isinstance(forecast.timestamps[0], datetime)
