"""The run view (Gradio): chart, histogram, peak table, metadata and status; correcting, confirming, history.

Every handler calls one function of :mod:`ui.review_logic` and redraws the view from its state with
:func:`ui.review_logic.render`. Bad input leaves everything as it was and says why (a warning toast
and the message line under the Confirm button).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import gradio as gr

from labflow.review.annotations import REASONS
from labflow.store.catalog import RunNotFound
from labflow.processing.recipes import RecipeError
from labflow.review.session import PREVIEW_PARAMETERS, ReviewError
from labflow.store.outputs import MissingOutputError
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


@dataclass
class ChartArea:
    """The chart with its controls, the histogram, the objective and the peak table."""

    channels: gr.CheckboxGroup
    show_raw: gr.Checkbox
    normalise: gr.Checkbox
    drag_mode: gr.Radio
    reset: gr.Button
    chart: gr.LinePlot
    histogram: gr.LinePlot
    histogram_caption: gr.Markdown
    objective: gr.Markdown
    peak_table: gr.Dataframe


@dataclass
class CorrectPanel:
    """Verdict, reasons and note; peak and interval editing; previews with other parameters."""

    draft: gr.Markdown
    verdict: gr.Radio
    reasons: gr.CheckboxGroup
    note: gr.Textbox
    peak_pick: gr.Dropdown
    peak_time: gr.Textbox
    add_peak: gr.Button
    move_peak: gr.Button
    remove_peak: gr.Button
    interval_start: gr.Textbox
    interval_end: gr.Textbox
    interval_label: gr.Textbox
    add_interval: gr.Button
    interval_pick: gr.Dropdown
    remove_interval: gr.Button
    intervals: gr.Dataframe
    parameters: list[gr.components.Component]  # in the order of PREVIEW_PARAMETERS
    peak_channel: gr.Dropdown
    preview: gr.Button
    keep: gr.Button
    drop: gr.Button
    preview_text: gr.Markdown


@dataclass
class ProposalPanel:
    """The model's proposed anomaly intervals (pre-annotations): accept, reject, adjust, or accept above."""

    text: gr.Markdown
    table: gr.Dataframe
    pick: gr.Dropdown
    accept: gr.Button
    reject: gr.Button
    start: gr.Textbox
    end: gr.Textbox
    adjust: gr.Button
    confidence: gr.Slider
    accept_above: gr.Button


@dataclass
class InfoTabs:
    """Metadata and quality, history, downloads."""

    metadata: gr.Markdown
    versions: gr.Dataframe
    audit: gr.Dataframe
    prepare_download: gr.Button
    files: gr.File


@dataclass
class ConfirmBar:
    confirm: gr.Button
    rebase: gr.Button
    discard: gr.Button
    message: gr.Markdown


def build_run_view(ctx: AppContext, author: gr.Textbox, run_list: RunList) -> None:
    """Lay out the run view and wire it to the run list and the author box."""
    state = gr.State(ViewState())
    title = gr.Markdown(RunView().title, elem_id="run-title")
    status = gr.Markdown(elem_id="run-status")
    area = _chart_area()
    with gr.Tabs():
        with gr.Tab("Correct", id="correct"):
            panel = _correct_panel()
            proposals = _proposal_panel()
        info = _info_tabs()
    bar = _confirm_bar()
    wiring = _Wiring(ctx, author, state, title, status, area, panel, info, bar, proposals)
    wiring.opening(run_list)
    wiring.chart()
    wiring.edits()
    wiring.previews()
    wiring.confirmation(run_list)
    wiring.proposal_decisions()
    info.prepare_download.click(wiring.downloads, [state], [info.files])


def _chart_area() -> ChartArea:
    with gr.Row(equal_height=True):
        channels = gr.CheckboxGroup([], label="Channels (overlaid on a shared time axis)", scale=4,
                                    elem_id="channels")
        show_raw = gr.Checkbox(True, label="Raw lines", min_width=100)
        normalise = gr.Checkbox(False, label="Scale each to 0–1", min_width=120)
    with gr.Row(elem_classes=["tool-row"]):
        drag_mode = gr.Radio([(label, key) for key, label in DRAG_MODES.items()], value="zoom", scale=5,
                             label="Dragging across the chart will…", elem_id="drag-mode")
        reset = gr.Button("Reset zoom", size="sm", scale=0, min_width=110, elem_id="reset-zoom")
    # No fixed height: Gradio 6.31 clips the caption (which says what is drawn) of a fixed-height plot.
    chart = gr.LinePlot(x="time_s", y="value", color="series", x_title="time (s)", y_title="value",
                        show_label=False, elem_id="run-chart", color_title="")
    with gr.Row():
        with gr.Column(scale=2, min_width=260):
            histogram = gr.LinePlot(x="value", y="count", height=250, label="Histogram of values",
                                    elem_id="histogram", x_title="value", y_title="samples")
            histogram_caption = gr.Markdown(elem_id="histogram-caption")
        with gr.Column(scale=3):
            objective = gr.Markdown(elem_id="objective")
            peak_table = gr.Dataframe(headers=list(PEAK_TABLE_COLUMNS), interactive=True, max_height=260,
                                      static_columns=list(range(1, len(PEAK_TABLE_COLUMNS))),
                                      label="Peaks in view — edit a time to move the peak, clear it to remove it",
                                      elem_id="peak-table", datatype=["number", "str", *["number"] * 5])
    return ChartArea(channels, show_raw, normalise, drag_mode, reset, chart, histogram, histogram_caption,
                     objective, peak_table)


def _correct_panel() -> CorrectPanel:
    draft = gr.Markdown(elem_id="draft-status")
    with gr.Row():
        verdict = gr.Radio([(label, key) for key, label in VERDICT_LABELS.items()], value="valid",
                           label="Verdict", elem_id="verdict", scale=2)
        reasons = gr.CheckboxGroup([(label, key) for key, label in REASONS.items()], label="Reasons",
                                   elem_id="reasons", scale=3)
    note = gr.Textbox(label="Note", lines=2, placeholder="What is wrong, what you changed and why", elem_id="note")
    gr.Markdown("**Peaks** — pick a peak, type a time, or drag across the chart in an editing mode.")
    with gr.Row(elem_classes=["tool-row"]):
        peak_pick = gr.Dropdown([], label="Peak", allow_custom_value=True, elem_id="peak-pick", min_width=140)
        peak_time = gr.Textbox(label="time (s)", placeholder="seconds", max_lines=1, elem_id="peak-time",
                               min_width=120)
        add_peak = gr.Button("Add at time", size="sm", scale=0, min_width=100, elem_id="add-peak")
        move_peak = gr.Button("Move selected to time", size="sm", scale=0, min_width=160, elem_id="move-peak")
        remove_peak = gr.Button("Remove selected", size="sm", variant="stop", scale=0, min_width=130,
                                elem_id="remove-peak")
    gr.Markdown("**Anomaly intervals**")
    with gr.Row(elem_classes=["tool-row"]):
        start = gr.Textbox(label="start (s)", placeholder="seconds", max_lines=1, elem_id="interval-start",
                           min_width=110)
        end = gr.Textbox(label="end (s)", placeholder="seconds", max_lines=1, elem_id="interval-end", min_width=110)
        label = gr.Textbox(label="label", value="anomaly", max_lines=1, elem_id="interval-label", min_width=140)
        add_interval = gr.Button("Mark interval", size="sm", scale=0, min_width=120, elem_id="add-interval")
    with gr.Row(elem_classes=["tool-row"]):
        interval_pick = gr.Dropdown([], label="Interval", allow_custom_value=True, elem_id="interval-pick", scale=3)
        remove_interval = gr.Button("Remove interval", size="sm", variant="stop", scale=0, min_width=130)
    intervals = gr.Dataframe(headers=["start (s)", "end (s)", "label"], interactive=False, max_height=160,
                             label="Marked intervals")
    with gr.Accordion("Re-run smoothing and peak detection with other parameters (preview)", open=False,
                      elem_id="preview-panel"):
        with gr.Row():
            window = gr.Textbox(label="smoothing window (samples)", placeholder="recipe's", max_lines=1,
                                elem_id="param-window")
            baseline = gr.Dropdown(["", "none", "linear", "rolling_min"], value="", label="baseline")
            peak_channel = gr.Dropdown([], label="peak channel", allow_custom_value=True, elem_id="param-channel")
            mode = gr.Dropdown(["", "auto", "all", "dominant"], value="", label="peak mode")
        with gr.Row():
            # Text, not number boxes: an empty Gradio number box sends 0, and empty must mean "the recipe's".
            prominence = gr.Textbox(label="min prominence", placeholder="automatic", max_lines=1,
                                    elem_id="param-prominence")
            height = gr.Textbox(label="min height", placeholder="automatic", max_lines=1)
            distance = gr.Textbox(label="min distance (s)", placeholder="automatic", max_lines=1)
        with gr.Row(elem_classes=["tool-row"]):
            preview = gr.Button("Preview", size="sm", scale=0, min_width=110, elem_id="preview")
            keep = gr.Button("Keep previewed peaks", size="sm", scale=0, min_width=170, elem_id="keep-preview")
            drop = gr.Button("Drop preview", size="sm", scale=0, min_width=120)
        preview_text = gr.Markdown(elem_id="preview-text")
    return CorrectPanel(draft, verdict, reasons, note, peak_pick, peak_time, add_peak, move_peak, remove_peak,
                        start, end, label, add_interval, interval_pick, remove_interval, intervals,
                        [window, baseline, peak_channel, mode, prominence, height, distance], peak_channel,
                        preview, keep, drop, preview_text)


def _proposal_panel() -> ProposalPanel:
    with gr.Accordion("Model proposals (pre-annotations)", open=True, elem_id="proposal-panel"):
        text = gr.Markdown("No model proposals for this run yet.", elem_id="proposal-text")
        table = gr.Dataframe(headers=list(logic.PROPOSAL_COLUMNS), interactive=False, max_height=180,
                             label="Proposed anomaly intervals", elem_id="proposal-table")
        with gr.Row(elem_classes=["tool-row"]):
            pick = gr.Dropdown([], label="Proposal", elem_id="proposal-pick", scale=3)
            accept = gr.Button("Accept", size="sm", scale=0, min_width=90, elem_id="accept-proposal")
            reject = gr.Button("Reject", size="sm", variant="stop", scale=0, min_width=90, elem_id="reject-proposal")
        with gr.Row(elem_classes=["tool-row"]):
            start = gr.Textbox(label="adjusted start (s)", max_lines=1, elem_id="proposal-start", min_width=120)
            end = gr.Textbox(label="adjusted end (s)", max_lines=1, elem_id="proposal-end", min_width=120)
            adjust = gr.Button("Keep with these bounds", size="sm", scale=0, min_width=170, elem_id="adjust-proposal")
        with gr.Row(elem_classes=["tool-row"]):
            confidence = gr.Slider(0.0, 1.0, value=0.8, step=0.01, label="lowest confidence to accept",
                                   elem_id="proposal-confidence", scale=3)
            accept_above = gr.Button("Accept all above", size="sm", scale=0, min_width=150,
                                     elem_id="accept-proposals-above")
    return ProposalPanel(text, table, pick, accept, reject, start, end, adjust, confidence, accept_above)


def _info_tabs() -> InfoTabs:
    with gr.Tab("Metadata & quality", id="metadata"):
        metadata = gr.Markdown(elem_id="run-metadata")
    with gr.Tab("History", id="history"):
        versions = gr.Dataframe(interactive=False, label="Confirmed versions (newest first)", wrap=True,
                                elem_id="versions")
        audit = gr.Dataframe(interactive=False, label="Audit trail (newest first)", wrap=True, max_height=320,
                             elem_id="audit")
    with gr.Tab("Download", id="download"):
        prepare = gr.Button("Prepare the cleaned series (CSV and Parquet)", elem_id="download-series")
        files = gr.File(file_count="multiple", label="Cleaned series", interactive=False)
    return InfoTabs(metadata, versions, audit, prepare, files)


def _confirm_bar() -> ConfirmBar:
    with gr.Row(elem_classes=["tool-row"]):
        confirm = gr.Button("Confirm annotation", variant="primary", scale=2, elem_id="confirm")
        rebase = gr.Button("Continue from the newest version", scale=0, min_width=240, elem_id="rebase")
        discard = gr.Button("Discard my draft", variant="stop", scale=0, min_width=150, elem_id="discard")
    return ConfirmBar(confirm, rebase, discard, gr.Markdown(elem_id="review-message"))


class _Wiring:
    """The run view's event handlers: each runs one action of :mod:`ui.review_logic` and redraws."""

    def __init__(self, ctx: AppContext, author: gr.Textbox, state: gr.State, title: gr.Markdown,
                 status: gr.Markdown, area: ChartArea, panel: CorrectPanel, info: InfoTabs, bar: ConfirmBar,
                 proposals: ProposalPanel):
        self.ctx, self.author, self.state = ctx, author, state
        self.proposals = proposals
        self.area, self.panel, self.bar = area, panel, bar
        self.timer = gr.Timer(1.0, active=False)
        self.style = gr.State({})
        self.view = [state, title, status, info.metadata, area.channels, area.show_raw, area.normalise, area.chart,
                     self.style, area.histogram,
                     area.histogram_caption, area.objective, area.peak_table, panel.peak_pick, panel.draft,
                     panel.verdict, panel.reasons, panel.note, panel.intervals, panel.interval_pick,
                     panel.preview_text, panel.peak_channel, info.versions, info.audit, self.timer,
                     proposals.text, proposals.table, proposals.pick]
        self.outputs = [*self.view, bar.message]

    # -- plumbing -------------------------------------------------------------------------------
    def listen(self, trigger: Any, handler: Callable[..., list[Any]], inputs: list[Any],
               extra: tuple[Any, ...] = (), **options: Any) -> Any:
        """Run ``handler`` on ``trigger``, then give the chart its colours and caption (see :func:`_restyle`).

        Actions run one at a time (one queue for all of them), so two quick edits, say a note saved
        on leaving its box and the click that left it, apply in order, each to the stored draft.
        """
        options.setdefault("concurrency_id", "run-view")
        options.setdefault("concurrency_limit", 1)
        return trigger(handler, inputs, [*self.outputs, *extra], **options).then(
            _restyle, [self.style], [self.area.chart], show_progress="hidden")

    def respond(self, compute: Callable[[], Outcome], selected: Any = KEEP,
                fallback: ViewState | None = None) -> list[Any]:
        """Updates for the state ``compute`` returns. On bad input nothing changes (or the ``fallback``
        state is shown again, to put widgets back) and the reason is shown."""
        try:
            current, text = compute()
            if current.warning:  # e.g. a peak placed on flat baseline: said once, beside what was done
                gr.Warning(current.warning)
                current, text = replace(current, warning=""), f"{text} ⚠ {current.warning}"
            shown = logic.render(self.ctx, current)
        except BAD_INPUT as error:
            reason = str(error.args[0] if isinstance(error, KeyError) and error.args else error)
            gr.Warning(reason)
            if fallback is not None:
                return [*_updates(fallback, logic.render(self.ctx, fallback), KEEP), f"⚠ {reason}"]
            return [gr.skip()] * len(self.view) + [f"⚠ {reason}"]
        return [*_updates(current, shown, selected() if callable(selected) else selected), text]

    def edit(self, action: Callable[..., ViewState], text: Callable[..., str]) -> Callable[..., list[Any]]:
        """A handler of (state, author, *values) for an action taking (ctx, state, author, *values)."""
        def handler(current: ViewState, name: str, *values: Any) -> list[Any]:
            return self.respond(lambda: (action(self.ctx, current, name, *values), text(*values)))
        return handler

    # -- opening --------------------------------------------------------------------------------
    def opening(self, run_list: RunList) -> None:
        ctx = self.ctx

        def open_key(run_key: str, name: str) -> list[Any]:
            key = (run_key or "").strip()
            return self.respond(lambda: (logic.open_run(ctx, key, name), f"Opened {key}."), None)

        def open_row(name: str, event: gr.SelectData) -> list[Any]:
            return open_key(str(event.row_value[0]) if event.row_value else "", name)

        def follow(current: ViewState, name: str) -> list[Any]:
            def compute() -> Outcome:
                followed, progress = logic.follow_request(ctx, current, name)
                return followed, "" if progress is None else progress.message
            return self.respond(compute)

        def start_review(current: ViewState, name: str) -> list[Any]:
            """A name typed while a run is open starts (or switches) the review of that person."""
            name = (name or "").strip()
            reviewing = current.session is not None and current.session.author == name
            if current.run_key is None or not name or current.pending_run is not None or reviewing:
                return [gr.skip()] * len(self.outputs)
            return self.respond(lambda: (logic.require_session(ctx, current, name), f"Reviewing as {name}."))

        self.listen(run_list.table.select, open_row, [self.author])
        self.listen(run_list.open_button.click, open_key, [run_list.run_key, self.author])
        self.listen(run_list.run_key.submit, open_key, [run_list.run_key, self.author])
        self.listen(self.timer.tick, follow, [self.state, self.author], show_progress="hidden",
                    concurrency_id="run-view-polling", concurrency_limit=None)
        self.listen(self.author.submit, start_review, [self.state, self.author])
        self.listen(self.author.blur, start_review, [self.state, self.author])

    # -- chart ----------------------------------------------------------------------------------
    def chart(self) -> None:
        ctx, area, panel = self.ctx, self.area, self.panel

        def set_lines(current: ViewState, shown: list[str], raw: bool, scaled: bool) -> list[Any]:
            return self.respond(lambda: (logic.set_channels(ctx, current, shown, raw, scaled), ""), fallback=current)

        def on_drag(current: ViewState, name: str, how: str, picked: Any, event: gr.SelectData) -> list[Any]:
            start, end = (float(v) for v in event.index)
            bounds: list[Any] = [gr.skip(), gr.skip()]
            placed: list[Any] = [KEEP]

            def compute() -> Outcome:
                dragged, interval = logic.drag(ctx, current, name, how, start, end, _time(picked))
                if interval is not None:
                    bounds[:] = [f"{interval[0]:.6g}", f"{interval[1]:.6g}"]
                    return dragged, f"Interval {interval[0]:g}–{interval[1]:g} s: give it a label and mark it."
                if how == "zoom":
                    return dragged, f"Zoomed to {start:g}–{end:g} s."
                placed[0] = logic.apex_time(ctx, current, start, end)
                return dragged, f"Peak placed at the apex, {placed[0]:g} s."

            updates = self.respond(compute, lambda: placed[0])
            drawn = updates[self.view.index(self.style)]
            if isinstance(drawn, dict) and drawn.get("caption") and how != "zoom":
                drawn["caption"] += f" · last drag: {updates[-1]}"  # a new caption redraws: the selection goes
            return [*updates, *bounds]

        lines = [self.state, area.channels, area.show_raw, area.normalise]
        for widget in (area.channels, area.show_raw, area.normalise):
            self.listen(widget.input, set_lines, lines)
        self.listen(area.chart.select, on_drag, [self.state, self.author, area.drag_mode, panel.peak_pick],
                    (panel.interval_start, panel.interval_end))
        reset = self.edit(lambda c, s, n: logic.reset_zoom(s), lambda: "Showing the whole run.")
        self.listen(area.reset.click, reset, [self.state, self.author])
        self.listen(area.chart.double_click, reset, [self.state, self.author])

    # -- marking, peaks, intervals --------------------------------------------------------------
    def edits(self) -> None:
        ctx, panel, state, author = self.ctx, self.panel, self.state, self.author

        def move(current: ViewState, name: str, picked: Any, to_text: str) -> list[Any]:
            def compute() -> Outcome:
                to_s = _time(to_text)
                return logic.move_peak(ctx, current, name, _time(picked), to_s), f"Peak moved to {to_s:g} s."
            return self.respond(compute, lambda: _time(to_text))

        def remove(current: ViewState, name: str, picked: Any) -> list[Any]:
            return self.respond(lambda: (logic.remove_peak(ctx, current, name, _time(picked)), "Peak removed."),
                                None)

        marking = self.edit(logic.mark, lambda v, r, n: f"Draft saved: {VERDICT_LABELS.get(v, v)}.")
        for trigger in (panel.verdict.input, panel.reasons.input, panel.note.blur):
            self.listen(trigger, marking, [state, author, panel.verdict, panel.reasons, panel.note])
        self.listen(panel.add_peak.click,
                    self.edit(lambda c, s, n, t: logic.add_peak(c, s, n, _time(t)), lambda t: f"Peak added at {t} s."),
                    [state, author, panel.peak_time])
        self.listen(panel.move_peak.click, move, [state, author, panel.peak_pick, panel.peak_time])
        self.listen(panel.remove_peak.click, remove, [state, author, panel.peak_pick])
        self.listen(self.area.peak_table.input, self.edit(logic.edit_table, lambda table: "Peak table applied."),
                    [state, author, self.area.peak_table])
        panel.peak_pick.input(lambda picked: "" if _time_or_none(picked) is None else f"{_time(picked):g}",
                              [panel.peak_pick], [panel.peak_time])
        self.listen(panel.add_interval.click,
                    self.edit(lambda c, s, n, a, b, label: logic.mark_interval(c, s, n, _time(a), _time(b), label),
                              lambda a, b, label: f"Interval {a}–{b} s marked."),
                    [state, author, panel.interval_start, panel.interval_end, panel.interval_label])
        self.listen(panel.remove_interval.click,
                    self.edit(lambda c, s, n, i: logic.unmark_interval(c, s, n, _index(i)),
                              lambda i: "Interval removed."), [state, author, panel.interval_pick])

    # -- previews -------------------------------------------------------------------------------
    def previews(self) -> None:
        ctx, panel = self.ctx, self.panel

        def run_preview(current: ViewState, name: str, *values: Any) -> list[Any]:
            return self.respond(lambda: (logic.preview(ctx, current, name, dict(zip(PREVIEW_PARAMETERS, values))),
                                         "Preview ready: compare it with your draft."))

        self.listen(panel.preview.click, run_preview, [self.state, self.author, *panel.parameters])
        self.listen(panel.keep.click, self.edit(logic.keep, lambda: "Previewed peaks kept in your draft."),
                    [self.state, self.author])
        self.listen(panel.drop.click, self.edit(lambda c, s, n: logic.drop_preview(s), lambda: "Preview dropped."),
                    [self.state, self.author])

    # -- confirming -----------------------------------------------------------------------------
    def confirmation(self, run_list: RunList) -> None:
        ctx, panel, bar = self.ctx, self.panel, self.bar

        def confirm(current: ViewState, name: str, chosen: str, why: list[str], text: str) -> list[Any]:
            def compute() -> Outcome:
                confirmed, result, counted = logic.confirm_draft(ctx, current, name, chosen, why, text)
                (gr.Info if counted else gr.Warning)(result.splitlines()[0])
                return confirmed, ("✅ " if counted else "⚠ Conflict: ") + result.replace("\n", "  \n")
            return self.respond(compute)

        marking = [self.state, self.author, panel.verdict, panel.reasons, panel.note]
        self.listen(bar.confirm.click, confirm, marking).then(run_list.refresh, run_list.inputs, run_list.outputs)
        self.listen(bar.rebase.click,
                    self.edit(logic.continue_from_newest,
                              lambda: "Your edits now start from the newest version: review them and confirm."),
                    [self.state, self.author])
        self.listen(bar.discard.click, self.edit(logic.discard_draft, lambda: "Draft discarded."),
                    [self.state, self.author]).then(run_list.refresh, run_list.inputs, run_list.outputs)

    # -- pre-annotations ------------------------------------------------------------------------
    def proposal_decisions(self) -> None:
        ctx, box, state, author = self.ctx, self.proposals, self.state, self.author
        self.listen(box.accept.click,
                    self.edit(lambda c, s, n, i: logic.accept_proposal(c, s, n, _index(i)),
                              lambda i: "Proposal accepted into your draft."), [state, author, box.pick])
        self.listen(box.reject.click,
                    self.edit(lambda c, s, n, i: logic.reject_proposal(c, s, n, _index(i)),
                              lambda i: "Proposal rejected (noted in your draft)."), [state, author, box.pick])
        self.listen(box.adjust.click,
                    self.edit(lambda c, s, n, i, a, b: logic.adjust_proposal(c, s, n, _index(i), _time(a), _time(b)),
                              lambda i, a, b: f"Proposal kept as {a}–{b} s."),
                    [state, author, box.pick, box.start, box.end])
        self.listen(box.accept_above.click,
                    self.edit(lambda c, s, n, x: logic.accept_proposals_above(c, s, n, x),
                              lambda x: f"Proposals with confidence ≥ {x:.2f} accepted."),
                    [state, author, box.confidence])

        def fill_bounds(current: ViewState, picked: Any) -> tuple[Any, Any]:
            """Picking a proposal puts its bounds in the boxes, to adjust them."""
            try:
                index = _index(picked)
                proposals = logic.run_proposals(ctx, current.run_key) if current.run_key else []
            except BAD_INPUT:
                return gr.skip(), gr.skip()
            if index is None or index >= len(proposals):
                return gr.skip(), gr.skip()
            return f"{proposals[index].start_s:.6g}", f"{proposals[index].end_s:.6g}"

        box.pick.input(fill_bounds, [state, box.pick], [box.start, box.end])

    def downloads(self, current: ViewState) -> Any:
        """The cleaned series of the open run as CSV and Parquet files."""
        if current.run_key is None:
            gr.Warning("open a run first")
            return gr.skip()
        try:
            return cleaned_series_files(self.ctx.outputs, current.run_key, self.ctx.downloads_dir)
        except MissingOutputError as error:
            gr.Warning(str(error))
            return gr.skip()


def _updates(state: ViewState, view: RunView, selected: Any) -> list[Any]:
    """Component updates for ``view``, in the order of :attr:`_Wiring.view`.

    Plots get their data only (Gradio 6.31 drops a plot's new data when other properties change in
    the same update, and draws a new line only after its colours change); :func:`_restyle` sends
    colours and caption in a second step.
    """
    chart = view.chart
    pick = (gr.Dropdown(choices=view.peak_choices) if selected is KEEP else
            gr.Dropdown(choices=view.peak_choices, value=selected))
    return [
        state, view.title, view.status, view.metadata,
        gr.CheckboxGroup(choices=view.channels, value=view.shown_channels), state.show_raw, state.normalise,
        None if chart is None else chart.frame,
        {} if chart is None else {"color_map": chart.color_map, "caption": chart.caption, "x_title": chart.x_title,
                                  "y_title": chart.y_title},
        view.histogram, view.histogram_caption, view.objective,
        gr.Dataframe(value=view.peak_table), pick, view.draft, view.verdict, view.reasons, view.note,
        gr.Dataframe(value=view.interval_table), gr.Dropdown(choices=view.interval_choices, value=None),
        view.preview, gr.Dropdown(choices=view.channels), gr.Dataframe(value=view.versions),
        gr.Dataframe(value=view.audit), gr.Timer(active=view.polling),
        view.proposal_text, gr.Dataframe(value=view.proposal_table),
        gr.Dropdown(choices=view.proposal_choices, value=None),
    ]


def _restyle(style: dict[str, Any]) -> Any:
    """The chart's colours, caption and y axis title. The plot redraws only when they changed: when lines
    or markers appear or go, or the window changes (which also clears the zoom selection)."""
    return gr.LinePlot(**style) if style else gr.skip()


def _time(value: Any) -> float | None:
    """Seconds from a picked peak or a typed time (``None`` when empty)."""
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
