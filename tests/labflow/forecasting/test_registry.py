"""Model versions per asset: numbering, metrics, activation (by hand and automatic), rollback, comparison."""

from __future__ import annotations

import threading

import pytest

from labflow.store.catalog import Catalog
from labflow.forecasting.registry import ModelRegistry, RegistryError, UnknownAsset, UnknownVersion


@pytest.fixture
def registry(database_url: str):
    catalog = Catalog(database_url)
    yield ModelRegistry(catalog)
    catalog.dispose()


def _register(registry: ModelRegistry, asset: str = "line-3", ratio: float | None = None) -> int:
    version = registry.register(asset, run_id="r", data_hash="h" * 64, params={"horizon": 24}, model_key="k")
    if ratio is not None:
        registry.set_metrics(asset, version.version, {"mae_ratio_vs_naive": ratio, "mae": ratio * 10})
    return version.version


def test_versions_are_numbered_per_asset_even_when_registered_at_once(registry: ModelRegistry):
    threads = [threading.Thread(target=_register, args=(registry,)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [v.version for v in registry.versions("line-3")] == [6, 5, 4, 3, 2, 1]
    assert _register(registry, "workshop-b") == 1


def test_first_version_is_activated_then_only_if_not_worse(registry: ModelRegistry):
    first = _register(registry, ratio=0.70)
    assert registry.auto_activate("line-3", first, tolerance=0.05) == (True, "first version of the asset")
    worse = _register(registry, ratio=0.80)
    activated, reason = registry.auto_activate("line-3", worse, tolerance=0.05)
    assert not activated and "kept version 1" in reason and "0.800" in reason
    close = _register(registry, ratio=0.72)  # worse by less than 5 %: still activated
    assert registry.auto_activate("line-3", close, tolerance=0.05)[0]
    assert registry.active("line-3").version == close
    assert registry.active_versions() == {"line-3": close}


def test_activation_by_hand_and_rollback_walk_back_the_history(registry: ModelRegistry):
    for ratio in (0.7, 0.6, 0.9):
        _register(registry, ratio=ratio)
    registry.activate("line-3", 1, by="ana")
    registry.activate("line-3", 2, by="ana")
    registry.activate("line-3", 3, by="ben", reason="try the new sensor data")
    assert registry.rollback("line-3", by="ana").version == 2
    assert registry.rollback("line-3", by="ana").version == 1
    with pytest.raises(RegistryError, match="no earlier active version"):
        registry.rollback("line-3", by="ana")
    log = registry.activations("line-3")
    assert [(a.version, a.kind) for a in log][-2:] == [(2, "rollback"), (1, "rollback")]
    assert log[2].by == "ben" and log[2].reason == "try the new sensor data"
    assert [v.active for v in registry.versions("line-3")] == [False, False, True]


def test_compare_and_unknown_assets_or_versions(registry: ModelRegistry):
    _register(registry, ratio=0.7)
    _register(registry, ratio=0.6)
    assert [v.metrics["mae_ratio_vs_naive"] for v in registry.compare("line-3", [2, 1])] == [0.6, 0.7]
    with pytest.raises(UnknownVersion, match="no model version 5"):
        registry.compare("line-3", [1, 5])
    with pytest.raises(UnknownAsset, match="start a training job"):
        registry.versions("nowhere")
    with pytest.raises(UnknownVersion):
        registry.activate("line-3", 9, by="ana")
    assert [(a.asset_id, a.versions, a.latest, a.active) for a in registry.assets()] == [("line-3", 2, 2, None)]


def test_the_activation_tolerance_is_a_setting():
    from labflow.settings import Settings

    assert Settings.from_env({"LABFLOW_HOME": "/tmp/x"}).forecast_tolerance == 0.05
    assert Settings.from_env({"LABFLOW_HOME": "/tmp/x", "LABFLOW_FORECAST_TOLERANCE": "0.1"}).forecast_tolerance == 0.1
    with pytest.raises(ValueError, match="LABFLOW_FORECAST_TOLERANCE must be a number such as 0.05"):
        Settings.from_env({"LABFLOW_HOME": "/tmp/x", "LABFLOW_FORECAST_TOLERANCE": "five"})
    with pytest.raises(ValueError, match="between 0 and 1"):
        Settings.from_env({"LABFLOW_HOME": "/tmp/x", "LABFLOW_FORECAST_TOLERANCE": "2"})
