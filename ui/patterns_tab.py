"""The Patterns tab (Gradio): per source, a live chart of recent events with pattern markers, the list
of pattern events, and buttons to say whether a pattern was real. Logic in :mod:`ui.patterns`."""

from __future__ import annotations

from typing import Any

import gradio as gr
import polars as pl

from ui.context import AppContext
from ui.patterns import (PATTERN_COLUMNS, PatternsData, pattern_json, pattern_rows, source_fields,
                         stream_figure)

REFRESH_S = 5.0
EMPTY = ("No event sources yet: add `sources/<name>.yaml` and push events (`POST /api/v1/streams/<name>/events`), "
         "or replay a recording: `labflow replay examples/streams/demo-sensor.csv --source demo-sensor --speed 60`.")


def build_patterns_tab(ctx: AppContext, author: gr.Textbox | None = None) -> None:
    """The tab's components, inside the caller's ``gr.Tab``; refreshed every few seconds. ``author`` is the
    app's name box (recorded with feedback); without one the tab has its own."""
    data = PatternsData.open(ctx.settings)
    with gr.Row(equal_height=True):
        source = gr.Dropdown(label="Source", choices=[], interactive=True, elem_id="patterns-source", scale=3)
        refresh = gr.Button("Refresh now", size="sm", scale=0)
    summary = gr.Markdown(EMPTY, elem_id="patterns-summary")
    chart = gr.Plot(label="Recent events with drift, anomaly and cluster-change markers", elem_id="patterns-chart")
    table = gr.Dataframe(headers=PATTERN_COLUMNS, interactive=False, wrap=True, label="Pattern events (newest first)",
                         elem_id="patterns-table")
    with gr.Row(equal_height=True):
        chosen = gr.Textbox(label="Pattern", placeholder="click a row", interactive=False, scale=2,
                            elem_id="patterns-chosen")
        note = gr.Textbox(label="Note", placeholder="why (optional)", max_lines=2, scale=4)
        if author is None:
            author = gr.Textbox(label="Your name", max_lines=1, scale=2)
    with gr.Row():
        real = gr.Button("Real: true positive", variant="primary", elem_id="patterns-true")
        false = gr.Button("False alarm", variant="stop", elem_id="patterns-false")
    message = gr.Markdown("", elem_id="patterns-message")
    details = gr.Code(label="Pattern event", language="json", elem_id="patterns-details")
    timer = gr.Timer(REFRESH_S)
    views = [summary, chart, table]

    def show(name: str | None) -> list[Any]:
        if not name:
            return [EMPTY, stream_figure("-", pl.DataFrame(), [], []), []]
        events = data.recent_events(name)
        patterns = data.recent_patterns(name)
        kinds = [p["type"] for p in patterns]
        text = (f"**{name}**: {events.height:,} recent events; {kinds.count('anomaly')} anomalies, "
                f"{kinds.count('drift')} drifts, {kinds.count('cluster_change')} cluster changes among the latest "
                f"{len(patterns)} patterns.")
        return [text, stream_figure(name, events, patterns, source_fields(data, name)),
                pattern_rows(patterns, data.verdicts(name))]

    def reload(current: str | None) -> list[Any]:
        names = data.sources()
        pick = current if current in names else (names[0] if names else None)
        return [gr.Dropdown(choices=names, value=pick), *show(pick)]

    def select(event: gr.SelectData, rows: Any) -> list[Any]:
        row = event.index[0] if isinstance(event.index, (list, tuple)) else event.index
        pattern_id = str(rows.iloc[row, 0]) if hasattr(rows, "iloc") else str(rows[row][0])
        try:
            return [pattern_id, pattern_json(data.store.find_pattern(pattern_id))]
        except LookupError as error:
            return [pattern_id, str(error)]

    def verdict(kind: str):
        def give(pattern_id: str, text: str, who: str, name: str | None) -> list[Any]:
            return [data.give_feedback(pattern_id, kind, text, who), *show(name)]
        return give

    gr.on(triggers=None, fn=lambda: reload(None), inputs=None, outputs=[source, *views])
    source.input(show, [source], views)
    table.select(select, [table], [chosen, details])
    real.click(verdict("true_positive"), [chosen, note, author, source], [message, *views])
    false.click(verdict("false_positive"), [chosen, note, author, source], [message, *views])
    gr.on([timer.tick, refresh.click], reload, [source], [source, *views], show_progress="hidden")
