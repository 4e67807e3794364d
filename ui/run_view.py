"""The run view (Gradio): chart, histogram, peak table, metadata and status; correcting, confirming, history.

Every handler calls one function of :mod:`ui.review_logic` and redraws the view from its state with
:func:`ui.review_logic.render`. Bad input leaves everything as it was and says why (a warning toast
and the message line under the Confirm button).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from labflow.annotations import REASONS
from labflow.catalog import RunNotFound
from labflow.recipes import RecipeError
from labflow.review_session import ReviewError
from labflow.storage import MissingOutputError
from ui import review_logic as logic
from ui.context import AppContext
from ui.downloads import cleaned_series_files
from ui.review_logic import DRAG_MODES, PEAK_TABLE_COLUMNS, RunView, ViewState
from ui.runs_tab import RunList

VERDICT_LABELS = {"valid": "Valid", "invalid": "Invalid", "failed_experiment": "Failed experiment",
                  "peaks_wrong": "Peak detection wrong"}
BAD_INPUT = (ReviewError, RecipeError, KeyError, ValueError, MissingOutputError, RunNotFound)
Outcome = tuple[ViewState, str]
KEEP = object()  # leave the picked peak as it is


def build_run_view(ctx: AppContext, author: gr.Textbox, run_list: RunList) -> None:
    """Lay out the run view and wire it to the run list and the author box."""
    state = gr.State(ViewState())
    title = gr.Markdown(RunView().title, elem_id="run-title")
    status = gr.Markdown(elem_id="run-status")
    with gr.Row(equal_height=True):
        channels = gr.CheckboxGroup([], label="Channels (overlaid on a shared time axis)", scale=4,
                                    elem_id="channels")
        show_raw = gr.Checkbox(True, label="Raw lines", min_width=100)
        normalise = gr.Checkbox(False, label="Scale each to 0–1", min_width=120)
    with gr.Row(elem_classes=["tool-row"]):
        drag_mode = gr.Radio([(label, key) for key, label in DRAG_MODES.items()], value="zoom", scale=5,
                             label="Dragging across the chart will…", elem_id="drag-mode")
        reset = gr.Button("Reset zoom", size="sm", scale=0, min_width=110, elem_id="reset-zoom")
    chart = gr.LinePlot(x="time_s", y="value", color="series", x_title="time (s)", y_title="value",
                        height=380, show_label=False, elem_id="run-chart", color_title="")
    caption = gr.Markdown(elem_id="chart-caption")
    with gr.Row():
        with gr.Column(scale=2, min_width=260):
            hist = gr.BarPlot(x="value", y="count", height=250, label="Histogram of values", elem_id="histogram",
                              x_title="value", y_title="samples")
        with gr.Column(scale=3):
            objective = gr.Markdown(elem_id="objective")
            peak_table = gr.Dataframe(headers=list(PEAK_TABLE_COLUMNS), interactive=True, max_height=260,
                                      static_columns=list(range(1, len(PEAK_TABLE_COLUMNS))),
                                      label="Peaks in view — edit a time to move the peak, clear it to remove it",
                                      elem_id="peak-table", datatype=["number", "str", *["number"] * 5])
    with gr.Tabs():
        with gr.Tab("Correct", id="correct"):
            draft = gr.Markdown(elem_id="draft-status")
            with gr.Row():
                verdict = gr.Radio([(label, key) for key, label in VERDICT_LABELS.items()], value="valid",
                                   label="Verdict", elem_id="verdict", scale=2)
                reasons = gr.CheckboxGroup([(label, key) for key, label in REASONS.items()], label="Reasons",
                                           elem_id="reasons", scale=3)
            note = gr.Textbox(label="Note", lines=2, placeholder="What is wrong, what you changed and why",
                              elem_id="note")
            gr.Markdown("**Peaks** — pick a peak, type a time, or drag across the chart in an editing mode.")
            with gr.Row(elem_classes=["tool-row"]):
                peak_pick = gr.Dropdown([], label="Peak", allow_custom_value=True, elem_id="peak-pick",
                                        min_width=140)
                peak_time = gr.Number(None, label="time (s)", elem_id="peak-time", min_width=120)
                add_button = gr.Button("Add at time", size="sm", scale=0, min_width=100, elem_id="add-peak")
                move_button = gr.Button("Move selected to time", size="sm", scale=0, min_width=160,
                                        elem_id="move-peak")
                remove_button = gr.Button("Remove selected", size="sm", variant="stop", scale=0, min_width=130,
                                          elem_id="remove-peak")
            gr.Markdown("**Anomaly intervals**")
            with gr.Row(elem_classes=["tool-row"]):
                interval_start = gr.Number(None, label="start (s)", elem_id="interval-start", min_width=110)
                interval_end = gr.Number(None, label="end (s)", elem_id="interval-end", min_width=110)
                interval_label = gr.Textbox(label="label", value="anomaly", elem_id="interval-label", min_width=140)
                interval_add = gr.Button("Mark interval", size="sm", scale=0, min_width=120, elem_id="add-interval")
            with gr.Row(elem_classes=["tool-row"]):
                interval_pick = gr.Dropdown([], label="Interval", type="value", elem_id="interval-pick",
                                            allow_custom_value=True, scale=3)
                interval_remove = gr.Button("Remove interval", size="sm", variant="stop", scale=0, min_width=130)
            intervals = gr.Dataframe(headers=["start (s)", "end (s)", "label"], interactive=False, max_height=160,
                                     label="Marked intervals")
            with gr.Accordion("Re-run smoothing and peak detection with other parameters (preview)", open=False,
                              elem_id="preview-panel"):
                with gr.Row():
                    window = gr.Number(None, label="smoothing window (samples)", precision=0, elem_id="param-window")
                    baseline = gr.Dropdown(["", "none", "linear", "rolling_min"], value="", label="baseline")
                    peak_channel = gr.Dropdown([], label="peak channel", allow_custom_value=True,
                                               elem_id="param-channel")
                    mode = gr.Dropdown(["", "auto", "all", "dominant"], value="", label="peak mode")
                with gr.Row():
                    prominence = gr.Number(None, label="min prominence", elem_id="param-prominence")
                    height = gr.Number(None, label="min height")
                    distance = gr.Number(None, label="min distance (s)")
                with gr.Row(elem_classes=["tool-row"]):
                    preview_button = gr.Button("Preview", size="sm", scale=0, min_width=110, elem_id="preview")
                    keep_button = gr.Button("Keep previewed peaks", size="sm", scale=0, min_width=170,
                                            elem_id="keep-preview")
                    drop_button = gr.Button("Drop preview", size="sm", scale=0, min_width=120)
                preview_text = gr.Markdown(elem_id="preview-text")
        with gr.Tab("Metadata & quality", id="metadata"):
            metadata = gr.Markdown(elem_id="run-metadata")
        with gr.Tab("History", id="history"):
            versions = gr.Dataframe(interactive=False, label="Confirmed versions (newest first)", wrap=True,
                                    elem_id="versions")
            audit = gr.Dataframe(interactive=False, label="Audit trail (newest first)", wrap=True, max_height=320,
                                 elem_id="audit")
        with gr.Tab("Download", id="download"):
            download_button = gr.Button("Prepare the cleaned series (CSV and Parquet)", elem_id="download-series")
            files = gr.File(file_count="multiple", label="Cleaned series", interactive=False)
    with gr.Row(elem_classes=["tool-row"]):
        confirm_button = gr.Button("Confirm annotation", variant="primary", scale=2, elem_id="confirm")
        rebase_button = gr.Button("Continue from the newest version", scale=0, min_width=240, elem_id="rebase")
        discard_button = gr.Button("Discard my draft", variant="stop", scale=0, min_width=150, elem_id="discard")
    message = gr.Markdown(elem_id="review-message")
    timer = gr.Timer(1.0, active=False)

    view = [state, title, status, metadata, channels, chart, caption, hist, objective, peak_table, peak_pick,
            draft, verdict, reasons, note, intervals, interval_pick, preview_text, peak_channel, versions, audit,
            timer]
    outputs = [*view, message]

    def respond(compute: Callable[[], Outcome], selected: Any = KEEP) -> list[Any]:
        try:
            current, text = compute()
            shown = logic.render(ctx, current)
        except BAD_INPUT as error:
            reason = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
            gr.Warning(str(reason))
            return [gr.skip()] * len(view) + [f"⚠ {reason}"]
        return [*_updates(current, shown, selected() if callable(selected) else selected), text]

    def edit(action: Callable[..., ViewState], text: Callable[..., str]) -> Callable[..., list[Any]]:
        """A handler for an action taking (ctx, state, author, *values)."""
        def handler(current: ViewState, name: str, *values: Any) -> list[Any]:
            return respond(lambda: (action(ctx, current, name, *values), text(*values)))
        return handler

    # -- opening ------------------------------------------------------------------------------
    def open_key(run_key: str, name: str) -> list[Any]:
        key = (run_key or "").strip()
        return respond(lambda: (logic.open_run(ctx, key, name), f"Opened {key}."), None)

    def open_row(name: str, event: gr.SelectData) -> list[Any]:
        return open_key(str(event.row_value[0]) if event.row_value else "", name)

    run_list.table.select(open_row, [author], outputs)
    run_list.open_button.click(open_key, [run_list.run_key, author], outputs)
    run_list.run_key.submit(open_key, [run_list.run_key, author], outputs)

    def follow(current: ViewState, name: str) -> list[Any]:
        def compute() -> Outcome:
            followed, progress = logic.follow_request(ctx, current, name)
            return followed, "" if progress is None else progress.message
        return respond(compute)

    timer.tick(follow, [state, author], outputs, show_progress="hidden")

    def start_review(current: ViewState, name: str) -> list[Any]:
        if current.run_key is None or not (name or "").strip() or current.pending_run is not None:
            return [gr.skip()] * len(outputs)
        return respond(lambda: (logic.require_session(ctx, current, name), f"Reviewing as {name.strip()}."))

    author.submit(start_review, [state, author], outputs)
    author.blur(start_review, [state, author], outputs)

    # -- chart ----------------------------------------------------------------------------------
    def set_lines(current: ViewState, shown: list[str], raw: bool, scaled: bool) -> list[Any]:
        return respond(lambda: (logic.set_channels(ctx, current, shown, raw, scaled), ""))

    for widget in (channels, show_raw, normalise):
        widget.input(set_lines, [state, channels, show_raw, normalise], outputs)

    def on_drag(current: ViewState, name: str, how: str, picked: Any, event: gr.SelectData) -> list[Any]:
        start, end = (float(v) for v in event.index)
        bounds: list[Any] = [gr.skip(), gr.skip()]
        placed: list[Any] = [KEEP]

        def compute() -> Outcome:
            dragged, interval = logic.drag(ctx, current, name, how, start, end, _time(picked))
            if interval is not None:
                bounds[:] = [round(interval[0], 6), round(interval[1], 6)]
                return dragged, f"Interval {interval[0]:g}–{interval[1]:g} s: give it a label and mark it."
            if how == "zoom":
                return dragged, f"Zoomed to {start:g}–{end:g} s."
            placed[0] = logic.apex_time(ctx, current, start, end)
            return dragged, f"Peak placed at the apex, {placed[0]:g} s."

        return [*respond(compute, lambda: placed[0]), *bounds]

    chart.select(on_drag, [state, author, drag_mode, peak_pick], [*outputs, interval_start, interval_end])
    reset_action = edit(lambda c, s, n: logic.reset_zoom(s), lambda: "Showing the whole run.")
    reset.click(reset_action, [state, author], outputs)
    chart.double_click(reset_action, [state, author], outputs)

    # -- marking, peaks, intervals -----------------------------------------------------------------
    marking = edit(logic.mark, lambda v, r, n: f"Draft saved: {VERDICT_LABELS.get(v, v)}.")
    verdict.input(marking, [state, author, verdict, reasons, note], outputs)
    reasons.input(marking, [state, author, verdict, reasons, note], outputs)
    note.blur(marking, [state, author, verdict, reasons, note], outputs)

    add_button.click(edit(lambda c, s, n, t: logic.add_peak(c, s, n, t), lambda t: f"Peak added at {t:g} s."),
                     [state, author, peak_time], outputs)

    def move(current: ViewState, name: str, picked: Any, to_s: float | None) -> list[Any]:
        return respond(lambda: (logic.move_peak(ctx, current, name, _time(picked), to_s),
                                f"Peak moved to {to_s:g} s."), to_s)

    move_button.click(move, [state, author, peak_pick, peak_time], outputs)

    def remove(current: ViewState, name: str, picked: Any) -> list[Any]:
        return respond(lambda: (logic.remove_peak(ctx, current, name, _time(picked)), "Peak removed."), None)

    remove_button.click(remove, [state, author, peak_pick], outputs)
    peak_table.input(edit(logic.edit_table, lambda table: "Peak table applied."), [state, author, peak_table],
                     outputs)
    peak_pick.input(lambda picked: gr.Number(value=_time_or_none(picked)), [peak_pick], [peak_time])

    interval_add.click(edit(logic.mark_interval, lambda a, b, label: f"Interval {a:g}–{b:g} s marked."),
                       [state, author, interval_start, interval_end, interval_label], outputs)
    interval_remove.click(edit(lambda c, s, n, i: logic.unmark_interval(c, s, n, _index(i)),
                               lambda i: "Interval removed."), [state, author, interval_pick], outputs)

    # -- preview --------------------------------------------------------------------------------
    def run_preview(current: ViewState, name: str, *values: Any) -> list[Any]:
        keys = ("smoothing.window", "smoothing.baseline", "peaks.channel", "peaks.mode", "peaks.min_prominence",
                "peaks.min_height", "peaks.min_distance_s")
        return respond(lambda: (logic.preview(ctx, current, name, dict(zip(keys, values))),
                                "Preview ready: compare it with your draft."))

    preview_button.click(run_preview, [state, author, window, baseline, peak_channel, mode, prominence, height,
                                       distance], outputs)
    keep_button.click(edit(lambda c, s, n: logic.keep(c, s, n), lambda: "Previewed peaks kept in your draft."),
                      [state, author], outputs)
    drop_button.click(edit(lambda c, s, n: logic.drop_preview(s), lambda: "Preview dropped."), [state, author],
                      outputs)

    # -- confirming -----------------------------------------------------------------------------
    def confirm(current: ViewState, name: str, chosen: str, why: list[str], text: str) -> list[Any]:
        def compute() -> Outcome:
            confirmed, result, counted = logic.confirm_draft(ctx, current, name, chosen, why, text)
            (gr.Info if counted else gr.Warning)(result.splitlines()[0])
            return confirmed, ("✅ " if counted else "⚠ Conflict: ") + result.replace("\n", "  \n")
        return respond(compute)

    confirm_button.click(confirm, [state, author, verdict, reasons, note], outputs).then(
        run_list.refresh, run_list.inputs, run_list.outputs)
    rebase_button.click(edit(lambda c, s, n: logic.continue_from_newest(c, s, n),
                             lambda: "Your edits now start from the newest version: review them and confirm."),
                        [state, author], outputs)
    discard_button.click(edit(lambda c, s, n: logic.discard_draft(c, s, n), lambda: "Draft discarded."),
                         [state, author], outputs).then(run_list.refresh, run_list.inputs, run_list.outputs)

    def prepare_downloads(current: ViewState) -> Any:
        if current.run_key is None:
            gr.Warning("open a run first")
            return gr.skip()
        try:
            return cleaned_series_files(ctx.outputs, current.run_key, ctx.downloads_dir)
        except MissingOutputError as error:
            gr.Warning(str(error))
            return gr.skip()

    download_button.click(prepare_downloads, [state], [files])


def _updates(state: ViewState, view: RunView, selected: Any) -> list[Any]:
    """Component updates for ``view``, in the order of the ``view`` output list."""
    chart = view.chart
    plot = (gr.LinePlot(value=None) if chart is None else
            gr.LinePlot(value=chart.frame, color_map=chart.color_map, x_lim=chart.x_lim))
    histogram = (gr.BarPlot(value=None) if view.histogram is None else
                 gr.BarPlot(value=view.histogram, x_bin=view.histogram_bin, label=view.histogram_label))
    pick = (gr.Dropdown(choices=view.peak_choices) if selected is KEEP else
            gr.Dropdown(choices=view.peak_choices, value=selected))
    return [
        state, view.title, view.status, view.metadata,
        gr.CheckboxGroup(choices=view.channels, value=view.shown_channels), plot,
        chart.caption if chart else "", histogram, view.objective,
        gr.Dataframe(value=view.peak_table), pick, view.draft, view.verdict, view.reasons, view.note,
        gr.Dataframe(value=view.interval_table), gr.Dropdown(choices=view.interval_choices, value=None),
        view.preview, gr.Dropdown(choices=view.channels), gr.Dataframe(value=view.versions),
        gr.Dataframe(value=view.audit), gr.Timer(active=view.polling),
    ]


def _time(value: Any) -> float | None:
    """A peak picked in the dropdown (a number, or text typed into it) as seconds."""
    if value is None or value == "":
        return None
    try:
        return float(str(value).removesuffix("s").strip())
    except ValueError:
        raise ReviewError(f"{value!r} is not a time in seconds") from None


def _time_or_none(value: Any) -> float | None:
    try:
        return _time(value)
    except ReviewError:
        return None


def _index(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ReviewError("select the interval to remove from the list") from None
