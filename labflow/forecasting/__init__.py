"""Energy forecasting and anomaly detection per asset (production line, workshop, building).

The pieces, each in its own module: :mod:`~labflow.forecasting.history` (load and validate a
consumption history), :mod:`~labflow.forecasting.features` (lag, rolling, calendar and covariate
features), :mod:`~labflow.forecasting.model` (LightGBM point and quantile models, direct multi-step),
:mod:`~labflow.forecasting.backtest` (rolling-origin backtest beside the seasonal-naive baseline),
:mod:`~labflow.forecasting.registry` (model versions, one active per asset),
:mod:`~labflow.forecasting.anomalies` (points outside the interval, with a reason),
:mod:`~labflow.forecasting.fetch` (read a CSV from http(s), s3:// or file://),
:mod:`~labflow.forecasting.store` (where the assets keep their outputs) and
:mod:`~labflow.forecasting.serving` (active models kept in memory, swapped atomically).
"""
