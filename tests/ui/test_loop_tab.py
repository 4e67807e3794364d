"""The Loop tab's logic: iterations and legal moves, creating, the dashboard, what to label next."""

from __future__ import annotations

import gradio as gr
import numpy as np
import polars as pl
import pytest

from labflow.store.catalog import Catalog
from labflow.loop.iterations import IterationStore
from labflow.loop.runner import advance
from labflow.loop.steps import SCORED_WINDOWS
from labflow.loop.windows import series_windows
from labflow.review.store import ReviewStore
from labflow.store.outputs import open_output_store
from ui import loop as logic
from ui.loop_tab import build_loop_tab


@pytest.fixture
def stores(lab_settings):
    catalog = Catalog(lab_settings.database_url)
    yield IterationStore(catalog), ReviewStore(catalog), open_output_store(lab_settings)
    catalog.dispose()


def test_iterations_are_listed_created_and_moved_only_legally(stores):
    iterations, _, _ = stores
    assert logic.iteration_rows(iterations) == [] and logic.iteration_summary(iterations) == logic.NO_ITERATIONS
    with pytest.raises(ValueError, match="Type your name"):
        logic.create(iterations, " ", holdout="", label_budget=None, continue_model=False, start_after_labels=None,
                     target_f1=None)
    created = logic.create(iterations, "ana", holdout="run-a, run-b", label_budget=30, continue_model=True,
                           start_after_labels=5, target_f1=0.9)
    assert created.config["holdout_runs"] == ["run-a", "run-b"] and created.config["label_budget"] == 30
    assert created.config["start_after_labels"] == 5 and created.config["target_f1"] == 0.9
    assert logic.allowed_moves(iterations, 1) == ["Annotating"] and logic.allowed_moves(iterations, None) == []
    with pytest.raises(ValueError, match="cannot move from Created to Training"):
        logic.move(iterations, 1, "Training", "ana")
    with pytest.raises(ValueError, match="choose where"):
        logic.move(iterations, 1, None, "ana")
    assert logic.move(iterations, "1", "Annotating", "ana") == "Iteration 1 is now Annotating."
    row = logic.iteration_rows(iterations)[0]
    assert row[:4] == [1, "Annotating", "DataReady", "ana"] and row[-1] == 2
    assert "Iteration **1** is **Annotating**" in logic.iteration_summary(iterations)


def test_the_dashboard_draws_f1_precision_recall_and_labels(stores):
    iterations, _, _ = stores
    empty = logic.dashboard(iterations)
    assert "no measured iteration" in empty.axes[0].texts[0].get_text()
    for number, f1 in ((1, 0.4), (2, 0.7)):
        iterations.create("ana")
        iterations.record_metrics(number, {"event_f1": f1, "event_precision": f1, "event_recall": 1.0,
                                           "point_f1": f1 / 2, "labels_spent": 50 * number})
    figure = logic.dashboard(iterations)
    axes = figure.axes[0]
    lines = {line.get_label(): list(line.get_ydata()) for line in axes.get_lines()}
    assert lines["F1 (event)"] == [0.4, 0.7] and lines["F1 (point)"] == [0.2, 0.35]
    assert [bar.get_height() for bar in figure.axes[1].patches] == [50, 100]


def test_label_next_most_useful_names_a_run_and_where_to_look(stores):
    iterations, review, outputs = stores
    rows, message = logic.label_next(iterations, review, outputs)
    assert rows == [] and "run an iteration" in message
    iteration = iterations.create("ana", config={"label_budget": 4})
    advance(iterations, iteration.number, "Reviewing", "ana")
    t = np.arange(200) * 1.0
    windows = series_windows("run-x", t, np.sin(t / 5), window=20, step=10)
    scored = windows.with_columns(pl.Series("p_anomaly", np.linspace(0.0, 1.0, windows.height)))
    outputs.write_frame(SCORED_WINDOWS, iteration.key, scored)
    rows, message = logic.label_next(iterations, review, outputs)
    assert len(rows) == 4 and rows[0][0] == 1 and rows[0][1] == "run-x"
    assert 0.4 <= rows[0][4] <= 0.6  # the most uncertain window first
    assert "run `run-x`" in message and "Runs" in message


def test_the_tab_builds(lab_settings):
    with gr.Blocks():
        build_loop_tab(lab_settings)
