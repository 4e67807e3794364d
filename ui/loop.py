"""The Loop tab without Gradio: iterations and their legal moves, the dashboard, what to label next.

Every function takes the stores it reads and returns plain rows, text or a figure; errors are
``ValueError`` with a message for the person (shown as a warning by the tab).
"""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure

from labflow.loop.iterations import IllegalTransition, Iteration, IterationStore
from labflow.loop.steps import INFERENCE, METRICS, MODEL, TRAINING_SET, metrics_table, next_windows
from labflow.review.store import ReviewStore
from labflow.store.outputs import MissingOutputError, OutputStore

ITERATION_COLUMNS = ["#", "state", "can move to", "created by", "created (UTC)", "event F1", "point F1",
                     "labels spent", "held-out runs"]
WINDOW_COLUMNS = ["rank", "run", "from (s)", "to (s)", "p(anomaly)", "uncertainty"]
LOOP_ASSETS = [TRAINING_SET, MODEL, INFERENCE, METRICS]
NO_ITERATIONS = "No iteration yet: create the first one below (confirm a few runs with their anomaly intervals first)."


def iteration_rows(store: IterationStore) -> list[list[Any]]:
    """One row per iteration, newest first, in :data:`ITERATION_COLUMNS` order."""
    return [[it.number, it.state, ", ".join(it.allowed) or "— (final)", it.created_by,
             f"{it.created_at:%Y-%m-%d %H:%M}", _figure_of(it, "event_f1"), _figure_of(it, "point_f1"),
             it.metrics.get("labels_spent", ""), len(it.config.get("holdout_runs") or [])]
            for it in reversed(store.list())]


def iteration_summary(store: IterationStore) -> str:
    """A line about the newest iteration: where it stands and what can happen next."""
    latest = store.latest()
    if latest is None:
        return NO_ITERATIONS
    moves = ", ".join(latest.allowed) or "nothing (completed: create the next iteration)"
    score = f" · event F1 **{latest.metrics['event_f1']:.3f}**" if "event_f1" in latest.metrics else ""
    return f"Iteration **{latest.number}** is **{latest.state}**{score} · it can move to: {moves}."


def move(store: IterationStore, number: Any, target: str | None, author: str) -> str:
    """Move an iteration to ``target``; the message says what happened."""
    iteration = _iteration(store, number)
    if not target:
        raise ValueError(f"choose where iteration {iteration.number} should move: {', '.join(iteration.allowed)}")
    try:
        moved = store.transition(iteration.number, target, _name(author))
    except IllegalTransition as error:
        raise ValueError(str(error)) from None
    return f"Iteration {moved.number} is now {moved.state}."


def create(store: IterationStore, author: str, *, holdout: str, label_budget: float | None, continue_model: bool,
           start_after_labels: float | None, target_f1: float | None) -> Iteration:
    """A new iteration with these settings (empty ones: the previous iteration's)."""
    config: dict[str, Any] = {"continue_from_previous": bool(continue_model)}
    runs = [r.strip() for r in (holdout or "").replace("\n", ",").split(",") if r.strip()]
    if runs:
        config["holdout_runs"] = runs
    if label_budget:
        config["label_budget"] = int(label_budget)
    config["start_after_labels"] = int(start_after_labels) if start_after_labels else None
    config["target_f1"] = float(target_f1) if target_f1 else None
    return store.create(_name(author), config=config)


def allowed_moves(store: IterationStore, number: Any) -> list[str]:
    """Where the iteration may move next (none for an unknown one)."""
    try:
        return list(_iteration(store, number).allowed)
    except ValueError:
        return []


def dashboard(store: IterationStore) -> Figure:
    """Precision, recall and F1 (event level, point F1 dashed) per iteration, and labels spent as bars."""
    rows = metrics_table(store)
    figure = Figure(figsize=(8, 3.6), dpi=100)
    axes = figure.add_subplot()
    if not rows:
        axes.text(0.5, 0.5, "no measured iteration yet", ha="center", va="center", transform=axes.transAxes)
        axes.set_axis_off()
        return figure
    x = [row["iteration"] for row in rows]
    labels = axes.twinx()
    labels.bar(x, [row["labels_spent"] or 0 for row in rows], color="#d9d9d9", width=0.5, label="labels spent")
    labels.set_ylabel("labelled windows")
    axes.set_zorder(labels.get_zorder() + 1)
    axes.patch.set_visible(False)
    for key, label, style in (("event_f1", "F1 (event)", "-o"), ("event_precision", "precision (event)", "-s"),
                              ("event_recall", "recall (event)", "-^"), ("point_f1", "F1 (point)", "--o")):
        axes.plot(x, [row[key] if row[key] is not None else float("nan") for row in rows], style, label=label)
    axes.set_ylim(0, 1.05)
    axes.set_xticks(x)
    axes.set_xlim(min(x) - 0.6, max(x) + 0.6)
    axes.set_xlabel("iteration")
    axes.set_ylabel("held-out score")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize="small")
    figure.subplots_adjust(left=0.09, right=0.9, top=0.95, bottom=0.15)
    return figure


def label_next(iterations: IterationStore, review: ReviewStore, outputs: OutputStore,
               limit: int | None = None) -> tuple[list[list[Any]], str]:
    """The windows most useful to label next (rows; default: the iteration's label budget) and what to do
    about the first one."""
    try:
        frame = next_windows(iterations, review, outputs, limit=limit)
    except MissingOutputError:
        return [], "Nothing to suggest yet: run an iteration's assets (inference) first."
    if frame.height == 0:
        return [], "Every run with scored windows is labelled: create the next iteration."
    rows = [[r["rank"], r["run_key"], round(r["start_s"], 3), round(r["end_s"], 3), round(r["p_anomaly"], 3),
             round(r["uncertainty"], 3)] for r in frame.to_dicts()]
    top = frame.row(0, named=True)
    message = (f"**Label next:** run `{top['run_key']}`, around {top['start_s']:g}–{top['end_s']:g} s (the model is "
               f"unsure there: p = {top['p_anomaly']:.2f}). Open it in the *Runs* tab, mark its anomaly intervals "
               "(or none) and confirm. Ranked from iteration "
               f"{int(frame['iteration'][0])}'s scores; {len(set(frame['run_key']))} run(s) in this list.")
    return rows, message


def _figure_of(iteration: Iteration, key: str) -> str:
    value = iteration.metrics.get(key)
    return "" if value is None else f"{value:.3f}"


def _iteration(store: IterationStore, number: Any) -> Iteration:
    try:
        return store.get(int(number))
    except (TypeError, ValueError, LookupError):
        raise ValueError("choose an iteration from the list") from None


def _name(author: str) -> str:
    name = (author or "").strip()
    if not name:
        raise ValueError("Type your name first: every iteration change is recorded with who made it.")
    return name
