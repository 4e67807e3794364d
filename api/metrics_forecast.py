"""Forecast serving in ``/metrics``: time to answer per asset and operation, and the model version served."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import GaugeMetricFamily

from labflow.forecasting.serving import ModelCache

# Serving is sub-millisecond on compiled trees, milliseconds on LightGBM: buckets from 0.1 ms to 1 s.
SERVING_BUCKETS_S = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class ForecastMetrics:
    """``labflow_forecast_request_seconds{asset, operation}`` and ``labflow_forecast_model_version{asset}``.

    Only requests an active model answered are timed, so the asset label holds only assets with a model.
    """

    def __init__(self, registry: CollectorRegistry, cache: ModelCache):
        self.seconds = Histogram("labflow_forecast_request_seconds",
                                 "Time to answer a forecast request with the asset's active model",
                                 ["asset", "operation"], registry=registry, buckets=SERVING_BUCKETS_S)
        self.cache = cache
        registry.register(self)

    def observe(self, asset: str, operation: str, seconds: float) -> None:
        self.seconds.labels(asset, operation).observe(seconds)

    def collect(self) -> Iterator[Any]:
        version = GaugeMetricFamily("labflow_forecast_model_version", "The model version an asset is served with",
                                    labels=["asset", "serving"])
        for served in sorted(self.cache.loaded(), key=lambda s: s.asset_id):
            version.add_metric([served.asset_id, self.cache.serving(served.asset_id) or "none"], served.version)
        yield version
