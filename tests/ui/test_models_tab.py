"""The Models tab: it builds, trains from an uploaded CSV with progress, shows versions and the backtest chart,
and activates and rolls back versions."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import gradio as gr
import pytest

from lab_assets.forecasting import FORECASTING_ASSETS
from labflow.store.catalog import Catalog
from labflow.forecasting.registry import ModelRegistry
from labflow.settings import Settings
from labflow.store.outputs import open_output_store
from resources import build_resources
from lab_assets.gateway import DagsterGateway
from labflow.forecasting.demo import energy_csv
from labflow.forecasting.backtest import quality_warnings
from ui.models import (VERSION_COLUMNS, activate, asset_rows, backtest_figure, progress, rollback, start_training,
                       version_choices, version_rows, version_verdict)
from ui.models_tab import build_models_tab


def test_the_tab_builds(app_context):
    with gr.Blocks() as app, gr.Tab("Models"):
        build_models_tab(app_context)
    assert {"models-asset", "models-assets", "models-versions", "models-backtest", "models-training"} <= {
        block.elem_id for block in app.blocks.values()}


def test_train_from_an_upload_then_activate_and_roll_back(tmp_path: Path, lab_settings: Settings,
                                                          instance: dg.DagsterInstance, catalog: Catalog):
    defs = dg.Definitions(assets=FORECASTING_ASSETS, resources=build_resources(lab_settings),
                          executor=dg.in_process_executor)
    gateway = DagsterGateway(instance, defs=defs)
    upload = tmp_path / "gradio-upload.csv"
    upload.write_bytes(energy_csv(5))
    registry = ModelRegistry(catalog)
    for _ in range(2):
        job_id = start_training(lab_settings, gateway, "line-3", upload, n_estimators=10)
        gateway.wait_for_local_runs()
        done = progress(gateway, job_id)
        assert done.finished and done.fraction == 1.0
        assert done.text == "done: history checked, model trained, backtest done"
    assert asset_rows(registry)[0][:2] == ["line-3", 2]
    rows = version_rows(registry, "line-3")
    assert [row[0] for row in rows] == [2, 1] and len(rows[0]) == len(VERSION_COLUMNS)
    assert 0 < rows[0][VERSION_COLUMNS.index("MAE / naive")] < 3
    axes = backtest_figure(registry, open_output_store(lab_settings), "line-3").axes[0]
    assert [t.get_text() for t in axes.get_legend().get_texts()] == ["90% interval", "forecast (day ahead)", "actual"]
    assert "Type your name" in activate(registry, "line-3", 1, "")
    assert activate(registry, "line-3", 1, "ana").startswith("Version 1 of line-3 is active")
    assert registry.active("line-3").version == 1
    assert rollback(registry, "line-3", "ana") == "Rolled back: version 2 of line-3 is active again."
    assert "no model version 7" in activate(registry, "line-3", 7, "ana")


def test_training_refuses_what_it_cannot_start(tmp_path: Path, lab_settings: Settings,
                                               instance: dg.DagsterInstance):
    gateway = DagsterGateway(instance)
    with pytest.raises(ValueError, match="choose a CSV file"):
        start_training(lab_settings, gateway, "line-3", None)
    upload = tmp_path / "a.csv"
    upload.write_bytes(b"timestamp,value\n")
    with pytest.raises(ValueError, match="asset id 'line 3!' must be"):
        start_training(lab_settings, gateway, "line 3!", upload)
    assert "queued" in progress(gateway, "0123456789abcdef").text


def test_a_model_worse_than_naive_or_with_a_poor_interval_is_flagged(catalog: Catalog):
    registry = ModelRegistry(catalog)
    good = {"mae_ratio_vs_naive": 0.7, "interval_coverage": 0.88, "interval_nominal": 0.9}
    bad = {"mae_ratio_vs_naive": 1.08, "interval_coverage": 0.55, "interval_nominal": 0.9}
    for metrics in (good, bad):
        version = registry.register("line-3", run_id="r", data_hash="d" * 64, params={}, model_key="k")
        registry.set_metrics("line-3", version.version, {**metrics, "warnings": quality_warnings(metrics)})
    registry.activate("line-3", 1, by="ana")
    rows = version_rows(registry, "line-3")
    column = VERSION_COLUMNS.index("warnings")
    assert rows[0][column] == ("⚠ worse than the seasonal-naive forecast (MAE 1.08 × naive); "
                               "the 90 % interval holds 55 % of the actuals")
    assert rows[1][column] == ""
    assert version_choices(registry, "line-3") == ([2, 1], 1)  # the active version, never 0
    assert version_verdict(registry, "line-3").startswith("Version 1: MAE 0.70 × the seasonal-naive")
    assert version_verdict(registry, "line-3", 2).startswith("⚠ **Version 2 should not be trusted:** worse than")
