"""Serving: requests on the model's grid, the active model cache and its atomic hot swap."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import numpy as np
import pytest

from labflow.store.catalog import Catalog
from labflow.forecasting.model import ForecastRequestError
from labflow.forecasting.serving import ForecastService, NoActiveModel, ServedModel, detect, predict
from labflow.forecasting.store import model_key, save_model
from labflow.store.outputs import OutputStore
from tests.forecast_fixtures import readings


@pytest.fixture
def service(tmp_path, workshop_model, other_model):
    """A registry with two versions of ``workshop`` (version 1 active) and the service serving it."""
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    outputs = OutputStore(tmp_path / "storage")
    forecasts = ForecastService(catalog, outputs, refresh_s=0.05)
    for run, model in (("run-1", workshop_model), ("run-2", other_model)):
        key = model_key("workshop", run)
        save_model(outputs, key, model)
        forecasts.registry.register("workshop", run_id=run, data_hash="0" * 64, params={}, model_key=key)
    forecasts.registry.activate("workshop", 1, by="test")
    forecasts.cache.start()
    yield forecasts
    forecasts.cache.stop()
    catalog.dispose()


def test_predict_from_request_readings(service, workshop_history):
    served = service.served("workshop")
    assert served.version == 1
    request = readings(workshop_history.frame[-168:])
    forecast = predict(served, request[::-1], 6)  # any order: sorted on the grid
    assert forecast.timestamps[0] == workshop_history.frame["timestamp"][-1] + timedelta(hours=1)
    assert len(forecast.predicted) == 6


def test_request_errors_name_the_point(service, workshop_history):
    served = service.served("workshop")
    request = readings(workshop_history.frame[-170:])
    off = [dict(p) for p in request]
    off[5]["timestamp"] += timedelta(minutes=20)
    with pytest.raises(ForecastRequestError, match=r"historical_data\[5\].*off the model's 60-minute grid"):
        predict(served, off, 24)
    no_temp = [{k: v for k, v in p.items() if k != "temp"} for p in request]
    with pytest.raises(ForecastRequestError, match="has no temp"):
        predict(served, no_temp, 24)
    with pytest.raises(ForecastRequestError, match="too little history"):
        predict(served, request[:100], 24)
    sparse = [{**p, "value": None} if i % 3 else p for i, p in enumerate(request)]
    with pytest.raises(ForecastRequestError, match=r"only 56 of the last 168 readings have a value"):
        predict(served, sparse, 24)


def test_detect_flags_a_spike_with_a_reason(service, workshop_history):
    frame = workshop_history.frame[-240:]
    request = readings(frame)
    request[220]["value"] = float(frame["value"][220]) * 3
    detection = detect(service.served("workshop"), request)
    assert detection.checked == 240 - 168 - 23
    flagged = {a.timestamp: a for a in detection.anomalies}
    spike = flagged[frame["timestamp"][220]]
    assert spike.direction == "above" and spike.reason.startswith("exceeds the predicted upper bound by ")
    assert len(detection.anomalies) <= 10


def test_unknown_asset_and_no_active_version(service):
    from labflow.forecasting.registry import UnknownAsset

    with pytest.raises(UnknownAsset):
        service.served("nowhere")
    service.registry.register("idle", run_id="r", data_hash="0" * 64, params={}, model_key="missing")
    with pytest.raises(NoActiveModel, match="none is active"):
        service.served("idle")


def test_hot_swap_under_concurrent_predictions_drops_nothing(service, workshop_history):
    request = readings(workshop_history.frame[-168:])
    seen: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            try:
                served: ServedModel = service.served("workshop")
                forecast = predict(served, request, 24)
                assert np.all(np.isfinite(forecast.predicted))
                seen.append(served.version)
            except BaseException as error:  # noqa: BLE001 - any failure is what the test looks for
                errors.append(error)

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    for version in (2, 1, 2):
        service.registry.activate("workshop", version, by="test")
        service.cache.refresh()
        assert service.served("workshop").version == version
    stop.set()
    for thread in threads:
        thread.join()
    assert errors == []
    assert {1, 2} <= set(seen)


def test_an_activation_made_elsewhere_is_picked_up_by_the_follower(service):
    """A training run in another process activates through the registry only; the cache follows it."""
    assert service.served("workshop").version == 1  # waits for the first load
    service.registry.activate("workshop", 2, by="auto", kind="auto")
    deadline = time.monotonic() + 5
    while service.cache.peek("workshop").version != 2:
        assert time.monotonic() < deadline, "the cache did not follow the registry"
        time.sleep(0.02)
