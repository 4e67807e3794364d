"""The Campaign tab: it builds inside a Blocks, and shows phase, points and their states."""

from __future__ import annotations

import gradio as gr

from labflow.store.catalog import Catalog
from labflow.experiments import CampaignStatus, ExperimentStore, PointStatus, Recommendation, measured_objectives
from tests.ui.conftest import ARTIFACTS
from ui.campaign_tab import EMPTY, build_campaign_tab, campaign_figure, campaign_summary, campaign_table


def test_the_tab_builds_and_shows_a_campaign(lab_settings, app_context):
    catalog = Catalog(lab_settings.database_url)
    store = ExperimentStore(catalog)
    store.add_recommendations("demo", [Recommendation({"t": 30.0}, 1.0, 0.5, "space_filling", "sobol-1"),
                                       Recommendation({"t": 40.0}, 2.0, 0.3, "space_filling", "sobol-1")])
    store.register("EXP-40", campaign="demo", inputs={"t": 40.0})
    with gr.Blocks() as app, gr.Tab("Campaign"):
        build_campaign_tab(app_context)
    assert {"campaign", "campaign-summary", "campaign-chart", "campaign-points"} <= {
        block.elem_id for block in app.blocks.values()}
    status = store.campaign_status("demo")
    summary = campaign_summary(status)
    assert "space filling" in summary and "sobol-1" in summary and "1 registered" in summary
    assert [row[6] for row in campaign_table(status)] == ["recommended", "registered"]
    axes = campaign_figure(status).axes[0]
    assert axes.get_xlabel() == "t" and [t.get_text() for t in axes.get_legend().get_texts()] == [
        "predicted (recommended)", "predicted (registered)"]
    assert campaign_summary(None) == EMPTY and campaign_table(None) == []
    catalog.dispose()


def test_confirmed_points_show_the_measured_objective_beside_the_predicted_interval():
    predicted = Recommendation({"t": 40.0}, 2000.0, 150.0, "model_driven", "gp-3")
    status = CampaignStatus("demo", "model_driven", "gp-3", 1, 1, [
        PointStatus(1, 0, predicted, ["EXP-40"], ["r1", "r2"], ["r1", "r2"]),
        PointStatus(1, 1, Recommendation({"t": 50.0}, 2100.0, 300.0, "model_driven", "gp-3")),
    ])
    measured = measured_objectives(status, {"r1": 1850.0, "r2": 2050.0, "other": 5.0})
    assert measured == {(1, 0): 1950.0}
    figure = campaign_figure(status, measured)
    ARTIFACTS.mkdir(exist_ok=True)
    figure.savefig(ARTIFACTS / "campaign_measured_vs_predicted.png")
    axes = figure.axes[0]
    assert axes.get_ylabel() == "objective"
    assert sorted(t.get_text() for t in axes.get_legend().get_texts()) == [
        "measured (confirmed runs)", "predicted (confirmed)", "predicted (recommended)"]
    dots = next(c for c in axes.collections if c.get_label() == "measured (confirmed runs)")
    assert dots.get_offsets().tolist() == [[40.0, 1950.0]]
    rows = campaign_table(status, measured)
    assert [row[4:6] for row in rows] == [["2000 ± 1.5e+02", "1950"], ["2100 ± 3e+02", ""]]
