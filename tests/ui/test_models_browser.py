"""The Models tab in a real browser: a version worse than the seasonal-naive forecast, or whose interval
covers far from its nominal share, is flagged; the version box shows a real version, never 0."""

from __future__ import annotations

import pytest

from labflow.store.catalog import Catalog
from labflow.forecasting.backtest import quality_warnings
from labflow.forecasting.registry import ModelRegistry
from tests.lab_fixtures import free_port
from tests.ui.conftest import ARTIFACTS, WAIT_MS

pytestmark = pytest.mark.e2e
GOOD = {"mae": 1.9, "naive_mae": 2.7, "mae_ratio_vs_naive": 0.7, "interval_coverage": 0.88, "interval_nominal": 0.9}
BAD = {"mae": 2.9, "naive_mae": 2.7, "mae_ratio_vs_naive": 1.08, "interval_coverage": 0.55, "interval_nominal": 0.9}


def test_a_model_worse_than_naive_is_flagged_in_the_tab(chromium, lab_settings, app_context):
    import gradio as gr
    from playwright.sync_api import sync_playwright

    from ui.app import launch_options
    from ui.models_tab import build_models_tab

    catalog = Catalog(lab_settings.database_url)
    registry = ModelRegistry(catalog)
    for metrics in (GOOD, BAD):
        version = registry.register("workshop-1", run_id="r", data_hash="d" * 64, params={"horizon": 24},
                                    model_key="k")
        registry.set_metrics("workshop-1", version.version, {**metrics, "warnings": quality_warnings(metrics)})
    registry.activate("workshop-1", 2, by="auto")  # the flagged version is the active one
    with gr.Blocks() as app:
        build_models_tab(app_context)
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **launch_options())
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(chromium), headless=True,
                                                 args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_function("() => (document.querySelector('#models-verdict')?.innerText || '').includes('Version')",
                                   timeout=WAIT_MS)
            verdict = page.locator("#models-verdict").inner_text()
            table = page.locator("#models-versions").inner_text()
            chosen = page.locator("#models-version input").input_value()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "models_flag.png"), full_page=True)
            browser.close()
    finally:
        app.close()
        catalog.dispose()
    assert verdict.startswith("⚠ Version 2 should not be trusted: worse than the seasonal-naive forecast")
    assert "the 90 % interval holds 55 % of the actuals" in verdict
    assert "⚠ worse than the seasonal-naive forecast (MAE 1.08 × naive)" in table
    assert chosen == "2"  # the active version, not 0
