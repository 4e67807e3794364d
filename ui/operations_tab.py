"""The Operations tab (Gradio): KPI cards, stages, charts, alerts; refreshed every minute; CSV/PNG export."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import gradio as gr

from labflow.ops.alerts import AlertStore
from ui.context import AppContext
from ui.operations import (StatsRequest, acknowledge, alerts_table, batch_table, chart_files, export_files,
                           kpi_cards_html, load_stats, stage_table, style_alerts)

REFRESH_S = 60.0
CSS = """
.kpi-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 8px; }
.kpi { border: 1px solid var(--border-color-primary); border-radius: 6px; padding: 8px 10px; }
.kpi-label { color: var(--body-text-color-subdued); font-size: var(--text-sm); }
.kpi-value { font-size: 1.6em; font-weight: 600; }
.kpi-prev { font-size: var(--text-xs); color: var(--body-text-color-subdued); }
"""


def build_operations_tab(ctx: AppContext, author: gr.Textbox, app: gr.Blocks) -> None:
    """The tab's components and events; filled when the page loads and every minute after."""
    alerts = AlertStore(ctx.catalog)
    folder = Path(tempfile.mkdtemp(prefix="ops-", dir=ctx.downloads_dir))
    with gr.Row(equal_height=True):
        period = gr.Dropdown(["today", "7d", "30d", "90d", "custom"], value="7d", label="Period", scale=1)
        bucket = gr.Dropdown(["day", "week", "month"], value="day", label="By", scale=1)
        since = gr.Textbox(label="From (custom, YYYY-MM-DD)", scale=1)
        until = gr.Textbox(label="Until (custom, YYYY-MM-DD)", scale=1)
        instrument = gr.Dropdown([""] + ctx.catalog.distinct_values("instrument"), value="", label="Instrument",
                                 allow_custom_value=True, scale=1)
        recipe_hash = gr.Textbox(label="Recipe version (hash)", scale=1)
        campaign = gr.Textbox(label="Campaign", scale=1)
        refresh = gr.Button("Refresh", scale=0, min_width=100)
    message = gr.Markdown("")
    cards = gr.HTML()
    with gr.Row():
        stages = gr.Dataframe(label="Stages (now)", interactive=False, scale=1)
        with gr.Column(scale=3):
            with gr.Row():
                charts = [gr.Image(label=label, type="filepath", show_label=True, interactive=False)
                          for label in ("Activity", "Reviews")]
            with gr.Row():
                charts += [gr.Image(label=label, type="filepath", show_label=True, interactive=False)
                           for label in ("Runs by status", "Quality")]
    batches = gr.Dataframe(label="Recent batches of arriving files", interactive=False, wrap=True, max_height=300,
                           elem_id="ops-batches")
    table = gr.Dataframe(label="Alerts (critical red, warnings yellow; open ones bold)", interactive=False,
                         wrap=True, max_height=360)
    with gr.Row(equal_height=True):
        alert_state = gr.Radio(["open", "acknowledged", "resolved", "all"], value="open", label="Show alerts")
        alert_id = gr.Textbox(label="Alert id", scale=0, min_width=120)
        ack = gr.Button("Acknowledge", scale=0, min_width=140)
        export = gr.Button("Export tables (CSV) and charts (PNG)", scale=0)
    files = gr.File(file_count="multiple", label="Exports", interactive=False)
    timer = gr.Timer(REFRESH_S)
    filters = [period, bucket, since, until, instrument, recipe_hash, campaign]

    def show(state: str, *choice: str) -> list[Any]:
        try:
            stats = load_stats(ctx.catalog, ctx.gateway, StatsRequest(*choice))
        except ValueError as error:
            return [f"⚠ {error}"] + [gr.skip()] * (4 + len(charts))
        label = stats["period"]["label"]
        return [f"**{label}**, compared with the {stats['period']['bucket']}s before · refreshed every minute",
                kpi_cards_html(stats), stage_table(ctx.catalog), *chart_files(stats, folder),
                batch_table(ctx.gateway), style_alerts(alerts_table(alerts.list(state=state)))]

    def acknowledge_alert(number: str, who: str, state: str) -> list[Any]:
        try:
            done = acknowledge(alerts, number, who)
        except (ValueError, LookupError) as error:
            gr.Warning(str(error))
            return [gr.skip(), gr.skip()]
        return [f"✓ {done}", style_alerts(alerts_table(alerts.list(state=state)))]

    def export_all(state: str, *choice: str) -> Any:
        try:
            stats = load_stats(ctx.catalog, ctx.gateway, StatsRequest(*choice))
        except ValueError as error:
            gr.Warning(str(error))
            return gr.skip()
        return export_files(stats, stage_table(ctx.catalog), alerts_table(alerts.list(state=state)), folder)

    outputs = [message, cards, stages, *charts, batches, table]
    for trigger in (refresh.click, timer.tick, alert_state.change, period.change, bucket.change):
        trigger(show, [alert_state, *filters], outputs, show_progress="hidden")
    ack.click(acknowledge_alert, [alert_id, author, alert_state], [message, table])
    export.click(export_all, [alert_state, *filters], [files])
    app.load(show, [alert_state, *filters], outputs, show_progress="hidden")
