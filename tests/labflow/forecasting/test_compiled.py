"""Compiled trees: the same numbers as LightGBM, machine code kept by the trees' hash, swapped in beside serving."""

from __future__ import annotations

import logging
import time

import numpy as np

from labflow.store.catalog import Catalog
from labflow.forecasting.compiled import compile_trees
from labflow.forecasting.serving import ForecastService, ServedModel, predict
from labflow.forecasting.store import model_key, save_model
from labflow.store.outputs import OutputStore
from tests.forecast_fixtures import readings


def test_compiled_trees_give_lightgbms_numbers(tmp_path, workshop_model, workshop_history):
    compiled = compile_trees(workshop_model, tmp_path / "trees")
    assert compiled.is_compiled and not workshop_model.is_compiled
    rows = np.random.default_rng(0).normal(0, 2, (500, len(workshop_model.layout.names)))
    rows[::7, 5] = np.nan  # missing readings take LightGBM's missing-value branches
    for name, booster in workshop_model.boosters.items():
        assert np.allclose(compiled.compiled[name].predict(rows), booster.predict(rows, num_threads=1),
                           rtol=0, atol=1e-9)
    request = readings(workshop_history.frame[-168:])
    slow, fast = (predict(ServedModel("w", 1, m), request, 24) for m in (workshop_model, compiled))
    assert np.allclose(slow.predicted, fast.predicted, atol=1e-9) and np.allclose(slow.upper, fast.upper, atol=1e-9)


def test_machine_code_is_kept_and_reused(tmp_path, workshop_model):
    cache = tmp_path / "trees"
    compile_trees(workshop_model, cache)
    kept = {path.name: path.stat().st_mtime_ns for path in cache.iterdir()}
    assert len(kept) == 3 and all(name.endswith(".o") for name in kept)  # one per booster, no partial files
    again = compile_trees(workshop_model, cache)
    assert {path.name: path.stat().st_mtime_ns for path in cache.iterdir()} == kept
    rows = np.zeros((3, len(workshop_model.layout.names)))
    assert np.allclose(again.compiled["point"].predict(rows), workshop_model.boosters["point"].predict(rows))


def served_service(tmp_path, model, compiled_trees_dir) -> ForecastService:
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    outputs = OutputStore(tmp_path / "storage")
    service = ForecastService(catalog, outputs, refresh_s=0.05, compiled_trees_dir=compiled_trees_dir)
    key = model_key("workshop", "run-1")
    save_model(outputs, key, model)
    service.registry.register("workshop", run_id="run-1", data_hash="0" * 64, params={}, model_key=key)
    service.registry.activate("workshop", 1, by="test")
    return service


def wait_for(condition, timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_the_cache_serves_lightgbm_first_then_the_compiled_trees_of_the_same_version(tmp_path, workshop_model,
                                                                                       workshop_history):
    service = served_service(tmp_path, workshop_model, tmp_path / "trees")
    request = readings(workshop_history.frame[-168:])
    assert service.cache.serving("workshop") is None  # not loaded before it starts
    service.cache.start()
    try:
        first = service.served("workshop")
        before = predict(first, request, 24)
        assert wait_for(lambda: service.cache.serving("workshop") == "compiled")
        served = service.served("workshop")
        assert served.version == first.version == 1 and served.model.is_compiled
        assert np.allclose(predict(served, request, 24).predicted, before.predicted, atol=1e-9)
    finally:
        service.cache.stop()


def test_a_model_that_cannot_be_compiled_is_served_by_lightgbm(tmp_path, workshop_model, caplog):
    in_the_way = tmp_path / "not-a-directory"
    in_the_way.write_text("a file where the cache directory should be")
    service = served_service(tmp_path, workshop_model, in_the_way)
    with caplog.at_level(logging.ERROR, logger="labflow.forecasting"):
        service.cache.start()
        try:
            assert service.served("workshop").version == 1
            assert wait_for(lambda: "cannot compile the trees of workshop version 1" in caplog.text)
            assert service.cache.serving("workshop") == "lightgbm"
        finally:
            service.cache.stop()


def test_without_a_directory_nothing_is_compiled(tmp_path, workshop_model):
    service = served_service(tmp_path, workshop_model, None)
    service.cache.start()
    try:
        service.served("workshop")
        time.sleep(0.3)
        assert service.cache.serving("workshop") == "lightgbm"
    finally:
        service.cache.stop()
