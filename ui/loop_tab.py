"""The Loop tab (Gradio): iterations with their state and legal moves, the metrics dashboard, and the
windows most useful to label next. Logic lives in :mod:`ui.loop`."""

from __future__ import annotations

from typing import Any

import gradio as gr

from labflow.store.catalog import Catalog
from labflow.loop.iterations import IterationStore
from labflow.review.store import ReviewStore
from labflow.settings import Settings
from labflow.store.outputs import open_output_store
from ui import loop as logic

REFRESH_S = 15.0
AUTHOR_KEY = "labflow-author"  # the same browser storage as the name box at the top of the app
ITERATIONS_PARTITION = "iterations"


def build_loop_tab(settings: Settings, author: gr.Textbox | None = None) -> None:
    """The tab's components inside the caller's ``gr.Tab``; filled on load and refreshed every few seconds.
    ``author`` is the app's name box (recorded with every change); without one the tab has its own,
    pre-filled from the name the browser remembers."""
    catalog = Catalog(settings.database_url)
    iterations, review, outputs = IterationStore(catalog), ReviewStore(catalog), open_output_store(settings)
    own_author = author is None
    summary = gr.Markdown(logic.NO_ITERATIONS, elem_id="loop-summary")
    table = gr.Dataframe(headers=logic.ITERATION_COLUMNS, interactive=False, label="Iterations (newest first)",
                         elem_id="loop-iterations")
    with gr.Row(elem_classes=["tool-row"]):
        if author is None:
            author = gr.Textbox(label="Your name (recorded with every change)", max_lines=1, scale=2,
                                elem_id="loop-author")
        number = gr.Dropdown([], label="Iteration", scale=1, elem_id="loop-number")
        target = gr.Dropdown([], label="Move to", scale=2, elem_id="loop-target")
        move = gr.Button("Move", size="sm", scale=0, min_width=90, elem_id="loop-move")
        run = gr.Button("Run its assets (train → infer → measure)", size="sm", scale=0, min_width=260,
                        elem_id="loop-run")
    with gr.Accordion("New iteration", open=False):
        with gr.Row():
            holdout = gr.Textbox(label="Held-out runs (comma-separated keys; empty: the previous iteration's)",
                                 scale=3)
            budget = gr.Number(label="label budget (windows)", value=None, precision=0)
            continued = gr.Checkbox(label="Continue the previous model on the new labels", value=False)
        with gr.Row():
            start_after = gr.Number(label="Automation: start the next iteration after N new confirmed runs",
                                    value=None, precision=0)
            target_f1 = gr.Number(label="Automation: stop at event F1 ≥", value=None)
            create = gr.Button("Create iteration", variant="primary", scale=0, min_width=160, elem_id="loop-create")
    message = gr.Markdown(elem_id="loop-message")
    chart = gr.Plot(label="Held-out precision / recall / F1 per iteration, and labels spent", elem_id="loop-chart")
    with gr.Row(elem_classes=["tool-row"]):
        suggest = gr.Button("Label next most useful", variant="secondary", scale=0, min_width=200,
                            elem_id="loop-label-next")
        advice = gr.Markdown(elem_id="loop-advice")
    windows = gr.Dataframe(headers=logic.WINDOW_COLUMNS, interactive=False, label="Windows to label next",
                           elem_id="loop-windows")
    timer = gr.Timer(REFRESH_S)

    def reload(current: Any) -> list[Any]:
        rows = logic.iteration_rows(iterations)
        numbers = [row[0] for row in rows]
        chosen = current if current in numbers else (numbers[0] if numbers else None)
        return [logic.iteration_summary(iterations), rows, gr.Dropdown(choices=numbers, value=chosen),
                gr.Dropdown(choices=logic.allowed_moves(iterations, chosen), value=None), logic.dashboard(iterations)]

    views = [summary, table, number, target, chart]

    def act(action: Any, current: Any) -> list[Any]:
        try:
            text = action()
        except ValueError as error:
            gr.Warning(str(error))
            return [*reload(current), f"⚠ {error}"]
        return [*reload(current), text]

    def do_move(current: Any, where: str | None, name: str) -> list[Any]:
        return act(lambda: logic.move(iterations, current, where, name), current)

    def do_create(name: str, runs: str, n: float | None, cont: bool, after: float | None,
                  f1: float | None) -> list[Any]:
        def make() -> str:
            iteration = logic.create(iterations, name, holdout=runs, label_budget=n, continue_model=cont,
                                     start_after_labels=after, target_f1=f1)
            _instance(settings).add_dynamic_partitions(ITERATIONS_PARTITION, [iteration.key])
            return f"Iteration {iteration.number} created ({iteration.key}); move it to Annotating, then run it."
        return act(make, None)

    def do_run(current: Any) -> list[Any]:
        def launch() -> str:
            from labflow.loop.iterations import partition_key
            from ui.app import default_gateway

            if current is None:
                raise ValueError("choose an iteration from the list")
            key = partition_key(int(current))
            gateway = default_gateway(settings)
            gateway.instance.add_dynamic_partitions(ITERATIONS_PARTITION, [key])
            run_id = gateway.request(logic.LOOP_ASSETS, key, tags={"labflow/iteration": str(current)})
            return f"Run {run_id[:8]} requested for {key}: follow it in the Dagster UI; this page refreshes."
        return act(launch, current)

    gr.on(triggers=None, fn=lambda: reload(None), inputs=None, outputs=views)
    if own_author:
        remembered = gr.BrowserState("", storage_key=AUTHOR_KEY)
        gr.on(triggers=None, fn=lambda saved: saved or gr.skip(), inputs=[remembered], outputs=[author])
        author.change(lambda name: (name or "").strip(), [author], [remembered])
    number.input(lambda n: gr.Dropdown(choices=logic.allowed_moves(iterations, n), value=None), [number], [target])
    move.click(do_move, [number, target, author], [*views, message])
    create.click(do_create, [author, holdout, budget, continued, start_after, target_f1], [*views, message])
    run.click(do_run, [number], [*views, message])
    suggest.click(lambda: logic.label_next(iterations, review, outputs), None, [windows, advice])
    timer.tick(reload, [number], views, show_progress="hidden")


def _instance(settings: Settings) -> Any:
    from ui.app import default_gateway

    return default_gateway(settings).instance
