"""The run view without Gradio: what a person's actions do to the view state, and what the view shows.

Each action takes the app context and the current :class:`ViewState` and returns the next one (or
raises :class:`~labflow.review.session.ReviewError` with a message, leaving the state as it was);
:func:`render` turns a state into a :class:`RunView`, everything the run view displays.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from labflow.processing.apply import changes_cleaning
from labflow.review.annotations import Annotation, describe_changes
from labflow.store.catalog import RunRecord
from labflow.review.confirmed import why_left_out
from labflow.loop import preannotations
from labflow.loop.iterations import IterationStore
from labflow.loop.preannotations import Proposal
from labflow.loop.steps import latest_proposals
from labflow.review.session import (Preview, ReviewError, ReviewSession, RunSpan, add_interval, add_peak_at,
                                    confirm, detected_annotation, discard, draft_objective, edit_peak_times,
                                    keep_preview, measure_placed_peak, move_peak_to, open_session, parse_overrides,
                                    preview_processing, rebase, remove_interval, remove_peak_at, save_edit,
                                    with_marking)
from labflow.store.outputs import MissingOutputError
from ui.charts import ChartData, build_chart, histogram
from ui.context import AppContext
from ui.materialize import Progress, poll, request_missing
from ui.run_data import missing_outputs, value_channels

DRAG_MODES = {"zoom": "Zoom in", "add": "Add a peak at the apex", "move": "Move the selected peak to the apex",
              "interval": "Mark an anomaly interval"}
MAX_TABLE_PEAKS = 300
PEAK_TABLE_COLUMNS = ("time (s)", "origin", "apex (s)", "height", "prominence", "width (s)", "area")
NO_NAME = "Type your name at the top first: every change is recorded with who made it."
PROPOSAL_COLUMNS = ("#", "start (s)", "end (s)", "confidence", "decision")


@dataclass(frozen=True)
class ViewState:
    """One browser session's view of one run (the draft itself lives in the review store)."""

    run_key: str | None = None
    channels: tuple[str, ...] = ()
    show_raw: bool = True
    normalise: bool = False
    window: tuple[float, float] | None = None
    session: ReviewSession | None = None
    preview_id: str | None = None
    pending_run: str | None = None
    notice: str = ""
    warning: str = ""  # of the last edit (e.g. a peak placed on flat baseline), shown once


@dataclass(frozen=True)
class RunView:
    """Everything the run view shows for a state."""

    title: str = "Choose a run in the list."
    status: str = ""
    metadata: str = ""
    channels: list[str] = field(default_factory=list)
    shown_channels: list[str] = field(default_factory=list)
    chart: ChartData | None = None
    histogram: pd.DataFrame | None = None
    histogram_caption: str = ""
    peak_table: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(PEAK_TABLE_COLUMNS)))
    peak_choices: list[tuple[str, float]] = field(default_factory=list)
    objective: str = ""
    preview: str = ""
    draft: str = ""
    verdict: str = "valid"
    reasons: list[str] = field(default_factory=list)
    note: str = ""
    interval_table: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["start (s)", "end (s)",
                                                                                      "label"]))
    interval_choices: list[tuple[str, int]] = field(default_factory=list)
    versions: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["version", "by", "at (UTC)",
                                                                                 "verdict", "changes"]))
    audit: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["at (UTC)", "who", "action",
                                                                              "what"]))
    ready: bool = False
    polling: bool = False
    proposal_table: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(PROPOSAL_COLUMNS)))
    proposal_choices: list[tuple[str, int]] = field(default_factory=list)
    proposal_text: str = ""


# -- opening and loading ---------------------------------------------------------------------------
def open_run(ctx: AppContext, run_key: str, author: str) -> ViewState:
    """Open a run: request its missing outputs (lazy mode), else start or resume the person's review."""
    run = _run(ctx, run_key)
    progress = request_missing(ctx.gateway, ctx.outputs, run)
    if progress is not None:
        return ViewState(run_key=run_key, pending_run=progress.run_id, notice=progress.message)
    state = ViewState(run_key=run_key)
    return _with_session(ctx, state, author) if (author or "").strip() else state


def follow_request(ctx: AppContext, state: ViewState, author: str) -> tuple[ViewState, Progress | None]:
    """One poll of the requested materialization; once it succeeds the run is opened."""
    if state.pending_run is None or state.run_key is None:
        return state, None
    progress = poll(ctx.gateway, state.pending_run, dagster_url=ctx.gateway.webserver_url)
    if not progress.done:
        return replace(state, notice=progress.message), progress
    if progress.ok and not missing_outputs(ctx.outputs, state.run_key):
        opened = replace(state, pending_run=None, notice="")
        return (_with_session(ctx, opened, author) if (author or "").strip() else opened), progress
    error = _run(ctx, state.run_key).error
    return replace(state, pending_run=None, notice=progress.message + (f" {error}" if error else "")), progress


def _with_session(ctx: AppContext, state: ViewState, author: str) -> ViewState:
    assert state.run_key is not None
    session = open_session(ctx.store, state.run_key, author, detected=_detected(ctx, state.run_key))
    return replace(state, session=session)


def require_session(ctx: AppContext, state: ViewState, author: str) -> ViewState:
    """The state with ``author``'s review session, its draft as stored now, or a :class:`ReviewError`.

    The stored draft, not the browser's copy, is what an edit starts from: an edit never undoes
    another one that finished while this page was behind.
    """
    author = (author or "").strip()
    if not author:
        raise ReviewError(NO_NAME)
    if state.run_key is None:
        raise ReviewError("open a run first")
    if state.pending_run is not None or missing_outputs(ctx.outputs, state.run_key):
        raise ReviewError("the run's cleaned series and peaks are not there yet; wait for them")
    if state.session is not None and state.session.author == author:
        return replace(state, session=_stored(ctx, state.session))
    return _with_session(ctx, state, author)


def _stored(ctx: AppContext, session: ReviewSession) -> ReviewSession:
    """The session with the draft as stored (kept when there is none: just confirmed or discarded), and
    the newest confirmed version, which tells whether confirming would be refused."""
    head = ctx.store.latest_version(session.run_key)
    session = replace(session, head_version=head.version if head else 0)
    draft = ctx.store.get_draft(session.run_key, session.author)
    if draft is None:
        return session
    return replace(session, annotation=draft.annotation, base_version=draft.base_version, source="your draft")


# -- chart ---------------------------------------------------------------------------------------
def set_channels(ctx: AppContext, state: ViewState, channels: Sequence[str], show_raw: bool,
                 normalise: bool) -> ViewState:
    """Overlay these channels (on the shared time axis), with or without raw lines, scaled or not."""
    if state.run_key is None:
        return state
    available = value_channels(ctx.series.columns("clean_series", state.run_key))
    unknown = [c for c in channels if c not in available]
    if unknown:
        raise ReviewError(f"unknown channel(s) {', '.join(unknown)}; this run has {', '.join(available)}")
    if not channels:
        raise ReviewError("choose at least one channel to show")
    return replace(state, channels=tuple(channels), show_raw=bool(show_raw), normalise=bool(normalise))


def zoom(state: ViewState, start: float, end: float) -> ViewState:
    """Show only ``start``–``end`` s (re-fetched from the server at full detail for that window)."""
    start, end = sorted((float(start), float(end)))
    if not end > start:
        raise ReviewError("select a time range to zoom into")
    return replace(state, window=(start, end))


def reset_zoom(state: ViewState) -> ViewState:
    return replace(state, window=None)


def drag(ctx: AppContext, state: ViewState, author: str, mode: str, start: float, end: float,
         selected_peak: float | None) -> tuple[ViewState, tuple[float, float] | None]:
    """What dragging across the chart does in ``mode``; an interval mode returns the range to fill in."""
    if mode == "zoom":
        return zoom(state, start, end), None
    if mode == "interval":
        return state, tuple(sorted((float(start), float(end))))  # type: ignore[return-value]
    apex = apex_time(ctx, state, start, end)
    if mode == "add":
        return add_peak(ctx, state, author, apex), None
    if mode == "move":
        return move_peak(ctx, state, author, selected_peak, apex), None
    raise ReviewError(f"unknown drag mode {mode!r}")


def apex_time(ctx: AppContext, state: ViewState, start: float, end: float) -> float:
    """Time of the highest cleaned sample of the peak channel between ``start`` and ``end``."""
    frame, column = _peak_signal(ctx, state)
    time_s = frame["time_s"].to_numpy()
    lo, hi = np.searchsorted(time_s, min(start, end), "left"), np.searchsorted(time_s, max(start, end), "right")
    values = frame[column].cast(pl.Float64).to_numpy()[lo:hi]
    if not np.isfinite(values).any():
        raise ReviewError("no data in the selected range")
    return float(time_s[lo + int(np.nanargmax(values))])


# -- edits ---------------------------------------------------------------------------------------
def mark(ctx: AppContext, state: ViewState, author: str, verdict: str, reasons: Sequence[str],
         note: str) -> ViewState:
    """Set the verdict, reasons and note of the draft (saved as a ``mark`` action if anything changed)."""
    state = require_session(ctx, state, author)
    session = _session(state)
    marked = with_marking(session.annotation, verdict, list(reasons or []), note)
    if marked == session.annotation:
        return state
    summary = f"verdict {marked.verdict}" + (f"; reasons {', '.join(marked.reasons)}" if marked.reasons else "")
    return _saved(ctx, state, marked, "mark", summary)


def add_peak(ctx: AppContext, state: ViewState, author: str, time_s: float | None) -> ViewState:
    """Add a peak; its measured prominence is recorded, and a peak on flat baseline is warned about."""
    state = require_session(ctx, state, author)
    annotation = add_peak_at(_session(state).annotation, time_s, _span(ctx, state))
    return _saved_peak(ctx, state, annotation, f"peak added at {time_s:g} s", time_s)


def move_peak(ctx: AppContext, state: ViewState, author: str, from_s: float | None,
              to_s: float | None) -> ViewState:
    """Move a peak; as :func:`add_peak`, the prominence where it lands is recorded and checked."""
    state = require_session(ctx, state, author)
    annotation = move_peak_to(_session(state).annotation, from_s, to_s, _span(ctx, state))
    return _saved_peak(ctx, state, annotation, f"peak moved from {from_s:g} s to {to_s:g} s", to_s)


def _saved_peak(ctx: AppContext, state: ViewState, annotation: Annotation, summary: str,
                time_s: float | None) -> ViewState:
    """Save a peak edit with the prominence measured where the peak now is (and a warning when it is flat)."""
    assert time_s is not None  # checked by the edit
    frame, column = _peak_signal(ctx, state)
    placed = measure_placed_peak(frame["time_s"].to_numpy(), frame[column].cast(pl.Float64).to_numpy(), time_s)
    details = {"time_s": time_s, "apex_s": placed.time_s, "prominence": placed.prominence, "noise": placed.noise}
    saved = _saved(ctx, state, annotation, "edit_peaks", f"{summary} (prominence {placed.prominence:.3g})", details)
    return replace(saved, warning=placed.warning or "")


def remove_peak(ctx: AppContext, state: ViewState, author: str, time_s: float | None) -> ViewState:
    state = require_session(ctx, state, author)
    annotation = remove_peak_at(_session(state).annotation, time_s, _span(ctx, state))
    return _saved(ctx, state, annotation, "edit_peaks", f"peak removed at {time_s:g} s")


def edit_table(ctx: AppContext, state: ViewState, author: str, table: pd.DataFrame) -> ViewState:
    """Apply edits of the peak table's time column (the rows shown for the current window)."""
    state = require_session(ctx, state, author)
    session = _session(state)
    shown = _peaks_in_view(session.annotation, _span(ctx, state), state.window)
    edited = [_number(v) for v in table[PEAK_TABLE_COLUMNS[0]].tolist()] if len(table) else []
    annotation = edit_peak_times(session.annotation, shown, edited, _span(ctx, state))
    if annotation == session.annotation:
        return state
    summary = "; ".join(describe_changes(session.annotation, annotation)) or "peak table edited"
    return _saved(ctx, state, annotation, "edit_peaks", summary)


def mark_interval(ctx: AppContext, state: ViewState, author: str, start: float | None, end: float | None,
                  label: str) -> ViewState:
    state = require_session(ctx, state, author)
    annotation = add_interval(_session(state).annotation, start, end, label, _span(ctx, state))
    return _saved(ctx, state, annotation, "edit_intervals",
                  f"interval '{label.strip() or 'anomaly'}' {start:g}–{end:g} s marked")


def unmark_interval(ctx: AppContext, state: ViewState, author: str, index: int | None) -> ViewState:
    state = require_session(ctx, state, author)
    before = _session(state).annotation
    annotation = remove_interval(before, index)
    removed = before.intervals[index]  # type: ignore[index]
    return _saved(ctx, state, annotation, "edit_intervals",
                  f"interval '{removed.label}' {removed.start_s:g}–{removed.end_s:g} s removed")


def preview(ctx: AppContext, state: ViewState, author: str, values: Mapping[str, Any]) -> ViewState:
    """Recompute smoothing and peaks with other parameters in memory and show them beside the draft."""
    state = require_session(ctx, state, author)
    run = _run(ctx, state.run_key)
    recipe = ctx.recipe_for(run)
    overrides = parse_overrides(values, recipe)
    raw_channels = [c for c in ctx.series.columns("raw_series", run.run_key) if c not in ("time_s", "timestamp")]
    channel = overrides.get("peaks.channel") or _peak_channel(ctx, state)
    if channel not in raw_channels:
        raise ReviewError(f"unknown channel {channel!r}; this run has {', '.join(raw_channels)}")
    raw = ctx.series.frame("raw_series", run.run_key, [channel])
    result = preview_processing(raw, recipe, {**overrides, "peaks.channel": channel})
    preview_id = uuid.uuid4().hex
    ctx.series.previews.put(preview_id, result)
    described = ", ".join(f"{k}={v}" for k, v in overrides.items()) or "the recipe's parameters"
    ctx.store.record(run.run_key, author, "preview_params", f"previewed {described}: {result.peaks.height} peaks",
                     {"overrides": overrides, "peaks": result.peaks.height})
    return replace(state, preview_id=preview_id)


def keep(ctx: AppContext, state: ViewState, author: str) -> ViewState:
    """Put the previewed peaks and parameters into the draft."""
    state = require_session(ctx, state, author)
    result = current_preview(ctx, state)
    if result is None:
        raise ReviewError("there is no preview to keep; press Preview first")
    annotation = keep_preview(_session(state).annotation, result)
    described = ", ".join(f"{k}={v}" for k, v in result.overrides.items())
    kept = _saved(ctx, state, annotation, "edit_peaks", f"kept {result.peaks.height} peaks found with {described}",
                  {"recipe_overrides": result.overrides})
    return replace(kept, preview_id=None)


def drop_preview(state: ViewState) -> ViewState:
    return replace(state, preview_id=None)


def confirm_draft(ctx: AppContext, state: ViewState, author: str, verdict: str, reasons: Sequence[str],
                  note: str) -> tuple[ViewState, str, bool]:
    """Confirm the draft (with the marking as shown); returns the state, a message and whether it counted."""
    state = mark(ctx, state, author, verdict, reasons, note)
    outcome = confirm(ctx.store, _session(state))
    return replace(state, session=outcome.session), outcome.message, not outcome.conflict


def continue_from_newest(ctx: AppContext, state: ViewState, author: str) -> ViewState:
    """After a conflict: keep the edits, now on top of the newest confirmed version."""
    state = require_session(ctx, state, author)
    return replace(state, session=rebase(ctx.store, _session(state)))


def discard_draft(ctx: AppContext, state: ViewState, author: str) -> ViewState:
    state = require_session(ctx, state, author)
    assert state.run_key is not None
    session = discard(ctx.store, _session(state), detected=_detected(ctx, state.run_key))
    return replace(state, session=session, preview_id=None)


# -- pre-annotations: the model's proposed intervals ----------------------------------------------
def run_proposals(ctx: AppContext, run_key: str) -> list[Proposal]:
    """The run's proposed anomaly intervals from the newest iteration's inference (none without one)."""
    return latest_proposals(IterationStore(ctx.catalog), ctx.outputs, run_key)


def accept_proposal(ctx: AppContext, state: ViewState, author: str, index: int | None) -> ViewState:
    """Accept the ``index``-th proposal as an anomaly interval of the draft."""
    state = require_session(ctx, state, author)
    proposal = _proposal(ctx, state, index)
    annotation = preannotations.accept(_session(state).annotation, proposal)
    return _saved(ctx, state, annotation, "edit_intervals",
                  f"accepted the proposed interval {proposal.start_s:g}–{proposal.end_s:g} s "
                  f"(confidence {proposal.confidence:.2f})")


def reject_proposal(ctx: AppContext, state: ViewState, author: str, index: int | None) -> ViewState:
    """Reject the ``index``-th proposal (noted in the draft; no interval added)."""
    state = require_session(ctx, state, author)
    proposal = _proposal(ctx, state, index)
    annotation = preannotations.reject(_session(state).annotation, proposal)
    return _saved(ctx, state, annotation, "edit_intervals",
                  f"rejected the proposed interval {proposal.start_s:g}–{proposal.end_s:g} s")


def adjust_proposal(ctx: AppContext, state: ViewState, author: str, index: int | None, start: float | None,
                    end: float | None) -> ViewState:
    """Keep the ``index``-th proposal with other bounds (checked against the run's time range)."""
    state = require_session(ctx, state, author)
    proposal = _proposal(ctx, state, index)
    span = _span(ctx, state)
    start, end = span.check(start, "interval start"), span.check(end, "interval end")
    annotation = preannotations.adjust(_session(state).annotation, proposal, start, end)
    return _saved(ctx, state, annotation, "edit_intervals",
                  f"adjusted the proposed interval {proposal.start_s:g}–{proposal.end_s:g} s to {start:g}–{end:g} s")


def accept_proposals_above(ctx: AppContext, state: ViewState, author: str, confidence: float | None) -> ViewState:
    """Accept every undecided proposal whose confidence is at least ``confidence``."""
    state = require_session(ctx, state, author)
    if confidence is None:
        raise ReviewError("choose the lowest confidence to accept")
    proposals = run_proposals(ctx, _session(state).run_key)
    before = _session(state).annotation
    annotation = preannotations.accept_above(before, proposals, float(confidence))
    accepted = len(annotation.proposals) - len(before.proposals)
    if not accepted:
        raise ReviewError(f"no undecided proposal has a confidence of {float(confidence):.2f} or more")
    return _saved(ctx, state, annotation, "edit_intervals",
                  f"accepted {accepted} proposed interval(s) with confidence ≥ {float(confidence):.2f}")


def _proposal(ctx: AppContext, state: ViewState, index: int | None) -> Proposal:
    proposals = run_proposals(ctx, _session(state).run_key)
    if not proposals:
        raise ReviewError("the model has proposed no anomaly interval for this run")
    if index is None or not 0 <= index < len(proposals):
        raise ReviewError("select a proposed interval first")
    return proposals[index]


def _proposal_view(proposals: list[Proposal],
                   annotation: Annotation) -> tuple[pd.DataFrame, list[tuple[str, int]], str]:
    rows = [[n, p.start_s, p.end_s, round(p.confidence, 3), preannotations.decision_of(p, annotation) or "pending"]
            for n, p in enumerate(proposals)]
    choices = [(f"{p.start_s:g}–{p.end_s:g} s ({p.confidence:.2f})", n) for n, p in enumerate(proposals)]
    if not proposals:
        return pd.DataFrame(columns=list(PROPOSAL_COLUMNS)), [], "No model proposals for this run yet."
    waiting = len(preannotations.pending(proposals, annotation))
    text = (f"The model (iteration {proposals[0].iteration}) proposes **{len(proposals)}** anomaly interval(s), "
            f"drawn in cyan; **{waiting}** still to decide. Accept, reject or adjust each, or accept all above a "
            "confidence: they become normal intervals of your draft, with a note of what was proposed.")
    return pd.DataFrame(rows, columns=list(PROPOSAL_COLUMNS)), choices, text


# -- what the view shows -------------------------------------------------------------------------
def render(ctx: AppContext, state: ViewState) -> RunView:
    """Everything the run view shows for ``state``."""
    if state.run_key is None:
        return RunView()
    run = _run(ctx, state.run_key)
    base = RunView(title=_title(run), metadata=_metadata(ctx, run), versions=_versions(ctx, run.run_key),
                   audit=_audit(ctx, run.run_key))
    if state.pending_run is not None or missing_outputs(ctx.outputs, run.run_key):
        status = state.notice or f"Processing status: **{run.status}**" + (f" — {run.error}" if run.error else "")
        return replace(base, status=status, polling=state.pending_run is not None)
    session = _stored(ctx, state.session) if state.session else _viewing(ctx, run.run_key)
    annotation = session.annotation
    proposals = run_proposals(ctx, run.run_key)
    channels = value_channels(ctx.series.columns("clean_series", run.run_key))
    peak_channel = _peak_channel(ctx, state)
    shown = [c for c in state.channels if c in channels] or [peak_channel]
    frame = ctx.series.frame("clean_series", run.run_key,
                             [c for ch in dict.fromkeys([*shown, peak_channel]) for c in (ch, f"{ch}_clean")])
    chart = build_chart(frame, shown, show_raw=state.show_raw, normalise=state.normalise, window=state.window,
                        marker_channel=peak_channel, peaks=[p.time_s for p in annotation.peaks],
                        intervals=annotation.intervals, preview=current_preview(ctx, state),
                        proposals=preannotations.pending(proposals, annotation), axis=_axis(ctx, run.run_key),
                        units=_units(ctx, run.run_key))
    counts = histogram(frame, peak_channel, window=state.window)
    objective, measured = draft_objective(run, _objective_recipe(ctx, run, annotation),
                                          _objective_series(ctx, run, annotation, peak_channel), session)
    span = RunSpan.of(frame["time_s"].to_numpy())
    in_view = _peaks_in_view(annotation, span, state.window)
    proposal_table, proposal_choices, proposal_text = _proposal_view(proposals, annotation)
    return replace(
        base, status=_status_line(run, state), channels=channels, shown_channels=shown, chart=chart,
        histogram=counts, histogram_caption=f"Distribution of {peak_channel} (raw) in view",
        peak_table=_peak_table(annotation, in_view, measured), peak_choices=[(f"{t:g} s", t) for t in in_view],
        objective=_objective_text(objective, annotation, ctx.recipe_for(run).id),
        preview=_preview_text(current_preview(ctx, state), annotation),
        draft=_draft_text(session, state.session is not None), verdict=annotation.verdict,
        reasons=list(annotation.reasons), note=annotation.note,
        interval_table=pd.DataFrame([[i.start_s, i.end_s, i.label] for i in annotation.intervals],
                                    columns=["start (s)", "end (s)", "label"]),
        interval_choices=[(f"{i.label}: {i.start_s:g}–{i.end_s:g} s", n) for n, i in enumerate(annotation.intervals)],
        proposal_table=proposal_table, proposal_choices=proposal_choices, proposal_text=proposal_text,
        ready=True,
    )


def current_preview(ctx: AppContext, state: ViewState) -> Preview | None:
    return None if state.preview_id is None else ctx.series.previews.find(state.preview_id)


# -- helpers -------------------------------------------------------------------------------------
def _run(ctx: AppContext, run_key: str | None) -> RunRecord:
    run = ctx.catalog.get_run(run_key) if run_key else None
    if run is None:
        raise ReviewError(f"run {run_key!r} is not in the catalog")
    return run


def _session(state: ViewState) -> ReviewSession:
    assert state.session is not None
    return state.session


def _saved(ctx: AppContext, state: ViewState, annotation: Annotation, action: str, summary: str,
           details: dict[str, Any] | None = None) -> ViewState:
    return replace(state, session=save_edit(ctx.store, _session(state), annotation, action=action,
                                            summary=summary, details=details))


def _detected(ctx: AppContext, run_key: str) -> Annotation:
    peaks = ctx.outputs.read_frame("peaks", run_key)
    channels = value_channels(ctx.series.columns("clean_series", run_key))
    channel = peaks["channel"][0] if "channel" in peaks.columns and peaks.height else None
    run = _run(ctx, run_key)
    return detected_annotation(peaks, channel or ctx.recipe_for(run).peaks.channel or channels[0])


def _viewing(ctx: AppContext, run_key: str) -> ReviewSession:
    """What someone without a name sees: the newest version, else the detection (nothing recorded)."""
    head = ctx.store.latest_version(run_key)
    if head is not None:
        return ReviewSession(run_key, "", head.version, head.annotation, f"version {head.version}", head.version)
    return ReviewSession(run_key, "", 0, _detected(ctx, run_key), "the detected peaks")


def _peak_channel(ctx: AppContext, state: ViewState) -> str:
    assert state.run_key is not None
    annotation = (state.session or _viewing(ctx, state.run_key)).annotation
    channels = value_channels(ctx.series.columns("clean_series", state.run_key))
    if annotation.channel in channels:
        return annotation.channel  # type: ignore[return-value]
    return channels[0]


def _peak_signal(ctx: AppContext, state: ViewState) -> tuple[pl.DataFrame, str]:
    assert state.run_key is not None
    channel = _peak_channel(ctx, state)
    columns = ctx.series.columns("clean_series", state.run_key)
    column = f"{channel}_clean" if f"{channel}_clean" in columns else channel
    return ctx.series.frame("clean_series", state.run_key, [column]), column


def _span(ctx: AppContext, state: ViewState) -> RunSpan:
    assert state.run_key is not None
    frame = ctx.series.frame("clean_series", state.run_key, [])
    return RunSpan.of(frame["time_s"].to_numpy())


def _peaks_in_view(annotation: Annotation, span: RunSpan, window: tuple[float, float] | None) -> list[float]:
    start, end = window or (span.start_s, span.end_s)
    return [p.time_s for p in annotation.peaks if start <= p.time_s <= end][:MAX_TABLE_PEAKS]


def _objective_recipe(ctx: AppContext, run: RunRecord, annotation: Annotation) -> Any:
    """The recipe the ``annotations`` asset will use: the run's, with the kept parameters."""
    return ctx.processor.recipe_for(run, dict(annotation.recipe_overrides) or None)


def _objective_series(ctx: AppContext, run: RunRecord, annotation: Annotation, channel: str) -> pl.DataFrame:
    """The cleaned series the peaks are measured on: the stored one, or re-smoothed with kept parameters."""
    overrides = dict(annotation.recipe_overrides)
    wanted = annotation.channel or channel
    if not changes_cleaning(overrides):
        return ctx.series.frame("clean_series", run.run_key, [wanted, f"{wanted}_clean"])
    key = ("kept", run.run_key, json.dumps(overrides, sort_keys=True))
    def recleaned() -> pl.DataFrame:
        raw = ctx.series.frame("raw_series", run.run_key, [wanted])
        return preview_processing(raw, ctx.recipe_for(run), {**overrides, "peaks.channel": wanted}).cleaned

    return ctx.series.previews.get(key, recleaned)


def _peak_table(annotation: Annotation, in_view: list[float], measured: pl.DataFrame) -> pd.DataFrame:
    """One row per placed peak in view, beside the apex it was measured at."""
    origins = {p.time_s: p.origin for p in annotation.peaks}
    times = measured["time_s"].to_numpy() if measured.height else np.array([])
    rows = []
    for placed in in_view:
        row = measured.row(int(np.abs(times - placed).argmin()), named=True) if times.size else None
        rows.append([placed, origins.get(placed, ""),
                     *([round(row[c], 6) for c in ("time_s", "height", "prominence", "width_s", "area")]
                       if row else [None] * 5)])
    return pd.DataFrame(rows, columns=list(PEAK_TABLE_COLUMNS))


def _objective_text(objective: Any, annotation: Annotation, recipe_id: str) -> str:
    value = "—" if objective.value is None else f"{objective.value:.6g}"
    reason = why_left_out(annotation.verdict, objective.value)
    state = "would enter" if reason is None else f"would not enter ({reason})"
    return (f"**Objective** ({objective.kind}, recipe `{recipe_id}`): **{value}** — {objective.detail}. "
            f"Confirmed now, this run {state} the confirmed dataset.")


def _preview_text(result: Preview | None, annotation: Annotation) -> str:
    if result is None:
        return "No preview. Change parameters and press Preview; nothing is written until you keep it."
    described = ", ".join(f"`{k}={v}`" for k, v in result.overrides.items())
    prominence = result.thresholds.get("prominence")
    used = f" (prominence threshold {prominence:.3g})" if isinstance(prominence, float) else ""
    return (f"**Preview** on {result.channel} with {described}: **{result.peaks.height} peaks**{used}; "
            f"your draft has {len(annotation.peaks)}. *Keep* puts them and these parameters into your draft.")


def _draft_text(session: ReviewSession, editing: bool) -> str:
    if not editing:
        return f"Viewing {session.source}. Type your name at the top to review this run."
    text = f"Editing as **{session.author}**, starting from {session.source} (base version {session.base_version})."
    if session.stale:
        text += (f" ⚠ Version {session.head_version} was confirmed since: confirming will be refused until you "
                 f"continue from it.")
    return text + " Edits are a draft until you confirm."


def _status_line(run: RunRecord, state: ViewState) -> str:
    text = f"Processing status: **{run.status}**" + (f" — {run.error}" if run.error else "")
    return f"{text} · {state.notice}" if state.notice else text


def _title(run: RunRecord) -> str:
    quality = "—" if run.quality_score is None else f"{run.quality_score:.2f}"
    flags = ", ".join(run.quality_flags) or "none"
    review = run.review_status.replace("_", " ") + (f" (v{run.annotation_version})" if run.annotation_version else "")
    facts = " · ".join(v for v in (run.instrument, run.operator, run.material, run.experiment_id) if v)
    return (f"### {run.run_key}\n{run.original_name} · {facts or 'no metadata'}  \n"
            f"Quality **{quality}** (flags: {flags}) · review: **{review}**")


def _metadata(ctx: AppContext, run: RunRecord) -> str:
    lines = ["| field | value |", "|---|---|"]
    fields = {"original name": run.original_name, "source": run.source, "SHA-256": run.sha256[:16] + "…",
              "size": f"{run.size_bytes:,} bytes", "detected": f"{run.detected_at:%Y-%m-%d %H:%M:%S} UTC",
              "started": f"{run.started_at:%Y-%m-%d %H:%M:%S} UTC" if run.started_at else "",
              "instrument": run.instrument, "operator": run.operator, "material": run.material,
              "experiment": run.experiment_id, "status": run.status, "error": run.error,
              "recipe": f"{run.recipe_id} ({run.recipe_hash})" if run.recipe_id else ""}
    fields.update({f"params.{k}": json.dumps(v) if not isinstance(v, str) else v for k, v in run.params.items()})
    lines += [f"| {k} | {_cell(v)} |" for k, v in fields.items() if v not in (None, "")]
    lines += _reader_lines(ctx, run.run_key)
    try:
        report = ctx.outputs.read_json("quality_report", run.run_key)
    except MissingOutputError:
        return "\n".join(lines)
    explanations = report.get("explanations") or {}
    lines += ["", f"**Quality score {report.get('score', 0):.2f}**"]
    lines += [f"- **{flag}**: {explanations.get(flag, '')}" for flag in report.get("flags", [])] or ["- no flags"]
    return "\n".join(lines)


def _axis(ctx: AppContext, run_key: str) -> tuple[str, str]:
    """The series' x axis name and unit (time in seconds when the reader's info is not there)."""
    try:
        axis = ctx.outputs.read_json("raw_series_info", run_key).get("axis") or {}
    except MissingOutputError:
        axis = {}
    return axis.get("name", "time"), axis.get("unit", "s")


def _reader_lines(ctx: AppContext, run_key: str) -> list[str]:
    """What the reader made of the file: reader, axis, block, and every note (what it could not use,
    invented or skipped)."""
    try:
        info = ctx.outputs.read_json("raw_series_info", run_key)
    except MissingOutputError:
        return []
    axis = info.get("axis") or {}
    lines = ["", f"**Read by** `{info.get('reader', '?')}` · axis **{axis.get('label', 'time (s)')}** "
                 f"({axis.get('kind', 'time')}) · block `{info.get('block', '')}`"]
    notes = info.get("notes") or []
    lines += [f"**What the reader noted ({len(notes)})**"] + [f"- {_cell(n)}" for n in notes] if notes else \
        ["The reader noted nothing."]
    return lines


def _units(ctx: AppContext, run_key: str) -> dict[str, str]:
    """Each channel's unit as the instrument file gave it (empty when it gave none)."""
    try:
        return dict(ctx.outputs.read_json("raw_series_info", run_key).get("units") or {})
    except MissingOutputError:
        return {}


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _versions(ctx: AppContext, run_key: str) -> pd.DataFrame:
    rows = [[v.version, v.author, f"{v.created_at:%Y-%m-%d %H:%M:%S}", v.annotation.verdict, "; ".join(v.changes)]
            for v in reversed(ctx.store.history(run_key))]
    return pd.DataFrame(rows, columns=["version", "by", "at (UTC)", "verdict", "changes"])


def _audit(ctx: AppContext, run_key: str) -> pd.DataFrame:
    rows = [[f"{e.at:%Y-%m-%d %H:%M:%S}", e.actor, e.action, e.summary]
            for e in reversed(ctx.store.audit_trail(run_key))]
    return pd.DataFrame(rows, columns=["at (UTC)", "who", "action", "what"])


def _number(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ReviewError(f"peak time {value!r} is not a number of seconds") from None
    return None if np.isnan(number) else number
