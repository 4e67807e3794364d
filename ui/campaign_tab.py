"""The Campaign tab (Gradio): the optimiser's phase, its recommended points (predicted mean with the
uncertainty as an interval), which of them have been run and confirmed, and the objective measured on
the confirmed ones (from the confirmed dataset). The data comes from :mod:`labflow.experiments`."""

from __future__ import annotations

from typing import Any

import gradio as gr
from matplotlib.figure import Figure

from labflow.review.confirmed import DATASET_ASSET
from labflow.experiments import CampaignStatus, ExperimentStore, chart_points, measured_objectives, point_rows
from labflow.store.outputs import MissingOutputError, OutputStore
from ui.context import AppContext

REFRESH_S = 10.0
STATE_COLORS = {"recommended": "#9e9e9e", "registered": "#1f77b4", "ran": "#ff7f0e", "confirmed": "#2ca02c"}
PHASE_LABELS = {"space_filling": "space filling (exploring the parameter space)",
                "model_driven": "model driven (following the surrogate model)"}
TABLE_COLUMNS = ["batch", "point", "phase", "parameters", "predicted (mean ± uncertainty)", "measured", "state",
                 "experiments", "runs"]
MEASURED_COLOR = "#000000"
EMPTY = "No campaign yet: post recommendations (`POST /api/v1/recommendations`) or register an experiment."


def build_campaign_tab(ctx: AppContext) -> None:
    """The tab's components, inside the caller's ``gr.Tab``; filled on page load, refreshed every few seconds."""
    store = ExperimentStore(ctx.catalog)
    outputs = ctx.outputs
    with gr.Row(equal_height=True):
        campaign = gr.Dropdown(label="Campaign", choices=[], interactive=True, elem_id="campaign", scale=3)
        refresh = gr.Button("Refresh now", size="sm", scale=0)
    summary = gr.Markdown(EMPTY, elem_id="campaign-summary")
    chart = gr.Plot(label="Recommended points: predicted objective (interval: ± uncertainty) and the objective "
                    "measured on confirmed runs", elem_id="campaign-chart")
    table = gr.Dataframe(headers=TABLE_COLUMNS, interactive=False, wrap=True, label="Recommended points",
                         elem_id="campaign-points")
    timer = gr.Timer(REFRESH_S)
    views = [summary, chart, table]

    def show(name: str | None) -> list[Any]:
        status = store.campaign_status(name) if name else None
        measured = measured_objectives(status, dataset_objectives(outputs)) if status else {}
        return [campaign_summary(status), campaign_figure(status, measured), campaign_table(status, measured)]

    def reload(current: str | None) -> list[Any]:
        names = store.campaigns()
        chosen = current if current in names else (names[0] if names else None)
        return [gr.Dropdown(choices=names, value=chosen), *show(chosen)]

    gr.on(triggers=None, fn=lambda: reload(None), inputs=None, outputs=[campaign, *views])
    campaign.input(show, [campaign], views)
    gr.on([timer.tick, refresh.click], reload, [campaign], [campaign, *views], show_progress="hidden")


def campaign_summary(status: CampaignStatus | None) -> str:
    """Markdown: phase, model version and progress of the campaign."""
    if status is None:
        return EMPTY
    states = [p.state for p in status.points]
    phase = PHASE_LABELS.get(status.phase or "", "no recommendations yet")
    return (f"### {status.campaign}\n**Phase:** {phase} · **model:** {status.model_version or '–'} · "
            f"**batches:** {status.batches} · **experiments:** {status.experiments}\n\n"
            f"{len(states)} recommended point(s): {states.count('registered')} registered, "
            f"{states.count('ran')} run, {states.count('confirmed')} confirmed")


def dataset_objectives(outputs: OutputStore) -> dict[str, float]:
    """Run key → objective of the newest confirmed dataset (empty before the first)."""
    try:
        frame = outputs.read_frame(DATASET_ASSET, "latest")
    except MissingOutputError:
        return {}
    return dict(zip(frame["run_key"].to_list(), frame["objective"].to_list()))


def campaign_figure(status: CampaignStatus | None, measured: dict[tuple[int, int], float] | None = None) -> Figure:
    """Every recommended point's predicted objective with its uncertainty as an interval, coloured by how
    far it got, and the objective measured on the confirmed ones."""
    figure = Figure(figsize=(8, 3.6), dpi=100)
    axes = figure.add_subplot()
    if status is None or not status.points:
        axes.text(0.5, 0.5, "no recommended points", ha="center", va="center", transform=axes.transAxes)
        axes.set_axis_off()
        return figure
    axis, points = chart_points(status, measured)
    for state, color in STATE_COLORS.items():
        chosen = [p for p in points if p["state"] == state]
        if chosen:
            axes.errorbar([p["x"] for p in chosen], [p["mean"] for p in chosen],
                          yerr=[p["uncertainty"] for p in chosen], fmt="o", color=color, capsize=4,
                          elinewidth=2, alpha=0.8, label=f"predicted ({state})")
    done = [p for p in points if p["measured"] is not None]
    if done:
        axes.scatter([p["x"] for p in done], [p["measured"] for p in done], marker="D", s=36, zorder=3,
                     color=MEASURED_COLOR, label="measured (confirmed runs)")
    axes.set_xlabel(axis)
    axes.set_ylabel("objective")
    axes.grid(alpha=0.3)
    axes.legend(loc="best", fontsize="small")
    figure.subplots_adjust(left=0.1, right=0.98, top=0.95, bottom=0.15)
    return figure


def campaign_table(status: CampaignStatus | None, measured: dict[tuple[int, int], float] | None = None
                   ) -> list[list[Any]]:
    """The points table's rows, in :data:`TABLE_COLUMNS` order."""
    rows = point_rows(status) if status is not None else []
    measured = measured or {}
    for row in rows:
        row["predicted (mean ± uncertainty)"] = row["mean ± uncertainty"]
        value = measured.get((row["batch"], row["point"]))
        row["measured"] = "" if value is None else f"{value:.4g}"
    return [[row[column] for column in TABLE_COLUMNS] for row in rows]
