"""The Campaign tab: it builds inside a Blocks, and shows phase, points and their states."""

from __future__ import annotations

import gradio as gr

from labflow.store.catalog import Catalog
from labflow.experiments import ExperimentStore, Recommendation
from ui.campaign_tab import EMPTY, build_campaign_tab, campaign_figure, campaign_summary, campaign_table


def test_the_tab_builds_and_shows_a_campaign(lab_settings):
    catalog = Catalog(lab_settings.database_url)
    store = ExperimentStore(catalog)
    store.add_recommendations("demo", [Recommendation({"t": 30.0}, 1.0, 0.5, "space_filling", "sobol-1"),
                                       Recommendation({"t": 40.0}, 2.0, 0.3, "space_filling", "sobol-1")])
    store.register("EXP-40", campaign="demo", inputs={"t": 40.0})
    with gr.Blocks() as app, gr.Tab("Campaign"):
        build_campaign_tab(lab_settings)
    assert {"campaign", "campaign-summary", "campaign-chart", "campaign-points"} <= {
        block.elem_id for block in app.blocks.values()}
    status = store.campaign_status("demo")
    summary = campaign_summary(status)
    assert "space filling" in summary and "sobol-1" in summary and "1 registered" in summary
    assert [row[5] for row in campaign_table(status)] == ["recommended", "registered"]
    axes = campaign_figure(status).axes[0]
    assert axes.get_xlabel() == "t" and [t.get_text() for t in axes.get_legend().get_texts()] == [
        "recommended", "registered"]
    assert campaign_summary(None) == EMPTY and campaign_table(None) == []
    catalog.dispose()
