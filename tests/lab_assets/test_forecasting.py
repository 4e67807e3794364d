"""The forecasting assets on a real Dagster instance: history → model version → backtest and activation."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from lab_assets.forecasting import DATA_URL_TAG, FORECASTING_ASSETS, TREES_TAG
from lab_assets.partitions import ENERGY_ASSETS_PARTITION
from labflow.store.catalog import Catalog
from labflow.forecasting.registry import ModelRegistry
from labflow.forecasting.store import load_backtest, load_history, load_model
from labflow.settings import Settings
from labflow.store.outputs import open_output_store
from labflow.forecasting.demo import energy_csv


def _train(instance: dg.DagsterInstance, resources: dict, asset_id: str, url: str,
           **config) -> dg.ExecuteInProcessResult:
    if not instance.has_dynamic_partition(ENERGY_ASSETS_PARTITION, asset_id):
        instance.add_dynamic_partitions(ENERGY_ASSETS_PARTITION, [asset_id])
    run_config = {"ops": {name: {"config": {"n_estimators": 30, **config}}
                          for name in ("energy_history", "forecast_model", "forecast_evaluation")}}
    return dg.materialize(FORECASTING_ASSETS, instance=instance, resources=resources, partition_key=asset_id,
                          tags={DATA_URL_TAG: url}, run_config=run_config, raise_on_error=False)


def test_training_registers_an_active_version_with_its_backtest(tmp_path: Path, instance: dg.DagsterInstance,
                                                                lab_settings: Settings, lab_resources: dict,
                                                                catalog: Catalog):
    data = tmp_path / "line3.csv"
    data.write_bytes(energy_csv(5))
    result = _train(instance, lab_resources, "line-3", data.as_uri())
    assert result.success
    registry = ModelRegistry(catalog)
    version = registry.active("line-3")
    assert version is not None and version.version == 1 and version.run_id == result.run_id
    assert version.data_url == data.as_uri() and len(version.data_hash) == 64
    assert version.metrics["points"] > 100 and 0 < version.metrics["interval_coverage"] <= 1
    assert version.params["n_estimators"] == 30 and version.params["covariates"] == ["temp", "production"]
    outputs = open_output_store(lab_settings)
    assert load_model(outputs, version).layout.horizon == 24
    assert load_backtest(outputs, version).height == version.metrics["points"]
    history, info = load_history(outputs, "line-3")
    assert history.frame.height == 5 * 7 * 24 and info["report"]["problems"] == "none"
    events = {e.asset_key.to_user_string(): e.materialization.metadata
              for e in result.get_asset_materialization_events()}
    assert events["forecast_evaluation"]["activated"].value is True
    assert events["forecast_model"]["version"].value == 1
    assert events["energy_history"]["readings"].value == 5 * 7 * 24

    again = _train(instance, lab_resources, "line-3", data.as_uri())
    assert again.success
    assert [v.version for v in registry.versions("line-3")] == [2, 1]
    assert registry.active("line-3").version == 2  # the same data and parameters: not worse, so activated


def test_a_worse_model_is_registered_but_not_activated(tmp_path: Path, instance: dg.DagsterInstance,
                                                       lab_resources: dict, catalog: Catalog):
    data = tmp_path / "line3.csv"
    data.write_bytes(energy_csv(5))
    assert _train(instance, lab_resources, "line-3", data.as_uri()).success
    weak = _train(instance, lab_resources, "line-3", data.as_uri(), n_estimators=1, activation_tolerance=0.0)
    assert weak.success
    registry = ModelRegistry(catalog)
    assert registry.active("line-3").version == 1
    evaluation = next(e for e in weak.get_asset_materialization_events()
                      if e.asset_key.to_user_string() == "forecast_evaluation")
    assert "kept version 1" in evaluation.materialization.metadata["activation_reason"].value


def test_bad_data_fails_the_run_with_the_row(tmp_path: Path, instance: dg.DagsterInstance, lab_resources: dict):
    data = tmp_path / "bad.csv"
    data.write_bytes(b"timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 01:00:00,lots\n")
    result = _train(instance, lab_resources, "line-4", data.as_uri())
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    assert "row 3 ('lots')" in failure.event_specific_data.user_failure_data.description


def test_the_url_and_parameters_come_from_the_run_tags(tmp_path: Path, instance: dg.DagsterInstance,
                                                       lab_resources: dict, catalog: Catalog):
    data = tmp_path / "line5.csv"
    data.write_bytes(energy_csv(5))
    instance.add_dynamic_partitions(ENERGY_ASSETS_PARTITION, ["line-5"])
    result = dg.materialize(FORECASTING_ASSETS, instance=instance, resources=lab_resources, partition_key="line-5",
                            tags={DATA_URL_TAG: data.as_uri(), TREES_TAG: "20"})
    assert result.success
    assert ModelRegistry(catalog).active("line-5").params["n_estimators"] == 20


def test_the_code_location_has_the_forecasting_assets():
    from lab_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    for name in ("energy_history", "forecast_model", "forecast_evaluation"):
        assert graph.get(dg.AssetKey(name)).partitions_def.name == ENERGY_ASSETS_PARTITION
