"""One person reviewing one run: the draft they edit, previews with other parameters, confirmation.

The labelling app keeps a :class:`ReviewSession` per open run. Every edit is a pure function of
an :class:`~labflow.review.annotations.Annotation` (checked here, with messages a scientist can act on),
then :func:`save_edit` stores it as the person's draft in the :class:`~labflow.review.store.ReviewStore`
with the audit action it was. Only :func:`confirm` makes an annotation count; a confirmation on a
stale version is refused by the store and reported by :func:`conflict_report` with both sides'
changes, the person's edits staying their draft.

Previews (:func:`preview_processing`) run smoothing and peak detection in this process on the raw
series with other recipe parameters; nothing is written. :func:`keep_preview` puts the previewed
peaks and the parameters into the draft.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

import numpy as np
import polars as pl

from labflow.review.annotations import (REASONS, VERDICTS, Annotation, AnomalyInterval, PeakMark, add_peak,
                                 describe_changes, move_peak, nearest_peak, remove_peak)
from labflow.store.catalog import RunRecord
from labflow.review.confirmed import annotation_output
from labflow.processing.objective import ObjectiveValue
from labflow.processing.apply import UnknownChannel, apply_recipe, peak_channel
from labflow.processing.peaks import estimate_noise, measure_peaks
from labflow.processing.recipes import Recipe, RecipeError
from labflow.review.store import AnnotationVersion, ConfirmConflict, ReviewStore

# Smoothing/peak parameters a person may change in a preview (dotted recipe paths).
PREVIEW_PARAMETERS = ("smoothing.window", "smoothing.baseline", "peaks.channel", "peaks.mode",
                      "peaks.min_prominence", "peaks.min_height", "peaks.min_distance_s")
NUMERIC_PARAMETERS: dict[str, type] = {"smoothing.window": int, "peaks.min_prominence": float,
                                       "peaks.min_height": float, "peaks.min_distance_s": float}
# A peak picked from a list is found again within this fraction of the run's duration.
PICK_TOLERANCE = 1e-6
FLAT_PROMINENCE_NOISE = 5.0  # a placed peak no more prominent than this many noise sigmas is on baseline


class ReviewError(ValueError):
    """An edit that cannot be applied; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class RunSpan:
    """The time range of a run's series, to check the times a person types or clicks."""

    start_s: float
    end_s: float

    @classmethod
    def of(cls, time_s: np.ndarray) -> "RunSpan":
        return cls(float(time_s[0]), float(time_s[-1])) if time_s.size else cls(0.0, 0.0)

    @property
    def tolerance_s(self) -> float:
        """How close a time must be to a peak to mean that peak."""
        return max(PICK_TOLERANCE * (self.end_s - self.start_s), 1e-9)

    def check(self, time_s: float | None, what: str = "time") -> float:
        """``time_s`` as a float if it lies inside the run, else a :class:`ReviewError`."""
        if time_s is None or not np.isfinite(time_s):
            raise ReviewError(f"enter a {what} in seconds")
        if not self.start_s <= time_s <= self.end_s:
            raise ReviewError(f"{what} {time_s:g} s is outside the run ({self.start_s:g}–{self.end_s:g} s)")
        return float(time_s)


@dataclass(frozen=True)
class ReviewSession:
    """``author``'s review of one run: the annotation being edited and the version it started from."""

    run_key: str
    author: str
    base_version: int
    annotation: Annotation
    source: str
    head_version: int = 0

    @property
    def stale(self) -> bool:
        """Someone confirmed a newer version since this draft started: confirming will be refused."""
        return self.head_version > self.base_version


@dataclass(frozen=True)
class Preview:
    """Smoothing and peaks recomputed with other parameters; nothing is written."""

    overrides: dict[str, Any]
    channel: str
    cleaned: pl.DataFrame
    peaks: pl.DataFrame
    thresholds: dict[str, float | str]

    @property
    def peak_times(self) -> list[float]:
        return self.peaks["time_s"].to_list()


@dataclass(frozen=True)
class ConfirmOutcome:
    """What a confirmation did: the new version, or the conflict message (the edits stay a draft)."""

    session: ReviewSession
    message: str
    version: AnnotationVersion | None = None

    @property
    def conflict(self) -> bool:
        return self.version is None


# -- starting --------------------------------------------------------------------------------------
def detected_annotation(peaks: pl.DataFrame, channel: str | None) -> Annotation:
    """The annotation a run starts from when nobody has looked at it: valid, with the detected peaks."""
    marks = [PeakMark(time_s=float(t), origin="detected") for t in peaks["time_s"].to_list()]
    return Annotation(channel=channel, peaks=tuple(marks))


def open_session(store: ReviewStore, run_key: str, author: str, *, detected: Annotation) -> ReviewSession:
    """Resume ``author``'s draft, else start from the newest confirmed version, else from detection.

    Recorded as ``open`` in the audit trail.
    """
    head = store.latest_version(run_key)
    head_version = head.version if head else 0
    draft = store.get_draft(run_key, author)
    if draft is not None:
        session = ReviewSession(run_key, draft.author, draft.base_version, draft.annotation,
                                f"your draft of {draft.updated_at:%Y-%m-%d %H:%M} UTC", head_version)
    elif head is not None:
        session = ReviewSession(run_key, author.strip(), head.version, head.annotation,
                                f"version {head.version} by {head.author}", head_version)
    else:
        session = ReviewSession(run_key, author.strip(), 0, detected, "the detected peaks", 0)
    store.record(run_key, author, "open", f"opened, starting from {session.source}",
                 {"base_version": session.base_version})
    return session


# -- edits (pure) ----------------------------------------------------------------------------------
def with_marking(annotation: Annotation, verdict: str, reasons: Sequence[str], note: str) -> Annotation:
    """The annotation with this verdict, reasons and note (checked against the fixed lists)."""
    if verdict not in VERDICTS:
        raise ReviewError(f"choose a verdict: {', '.join(VERDICTS)}")
    unknown = [r for r in reasons if r not in REASONS]
    if unknown:
        raise ReviewError(f"unknown reason(s) {', '.join(unknown)}")
    return annotation.model_copy(update={"verdict": verdict, "reasons": tuple(dict.fromkeys(reasons)),
                                         "note": (note or "").strip()})


@dataclass(frozen=True)
class PlacedPeak:
    """A peak a person placed, measured on the cleaned signal as the dataset will measure it: where it
    snapped to, its prominence, and the signal's noise level (both in the channel's unit)."""

    time_s: float
    prominence: float
    noise: float

    @property
    def warning(self) -> str | None:
        """A sentence when the peak stands no higher than the noise (flat baseline), else ``None``."""
        if self.prominence > FLAT_PROMINENCE_NOISE * self.noise:
            return None
        return (f"the peak at {self.time_s:g} s has a prominence of only {self.prominence:.3g}, within "
                f"{FLAT_PROMINENCE_NOISE:g} × the noise level ({self.noise:.3g}): it is on flat baseline, not on a "
                f"peak. Check the time, or remove it.")


def measure_placed_peak(time_s: np.ndarray, values: np.ndarray, at_s: float) -> PlacedPeak:
    """Measure a peak placed at ``at_s`` on the cleaned ``values`` (snapped to the apex as confirmed peaks are)."""
    table = measure_peaks(time_s, values, np.array([at_s]))
    finite = values[np.isfinite(values)]
    noise = estimate_noise(finite)[0] if finite.size > 2 else 0.0
    if table.height == 0:
        return PlacedPeak(at_s, 0.0, noise)
    row = table.row(0, named=True)
    return PlacedPeak(float(row["time_s"]), float(row["prominence"]), noise)


def add_peak_at(annotation: Annotation, time_s: float | None, span: RunSpan) -> Annotation:
    """The annotation with a peak added at ``time_s`` (inside the run, not on an existing peak)."""
    time_s = span.check(time_s)
    if nearest_peak(annotation, time_s, tolerance_s=span.tolerance_s) is not None:
        raise ReviewError(f"there is already a peak at {time_s:g} s")
    return add_peak(annotation, time_s)


def move_peak_to(annotation: Annotation, from_s: float | None, to_s: float | None, span: RunSpan) -> Annotation:
    """The annotation with the peak at ``from_s`` moved to ``to_s``."""
    if from_s is None:
        raise ReviewError("select the peak to move first")
    to_s = span.check(to_s, "new time")
    if nearest_peak(annotation, from_s, tolerance_s=span.tolerance_s) is None:
        raise ReviewError(f"there is no peak at {from_s:g} s to move")
    return move_peak(annotation, from_s, to_s, tolerance_s=span.tolerance_s)


def remove_peak_at(annotation: Annotation, time_s: float | None, span: RunSpan) -> Annotation:
    """The annotation without the peak at ``time_s``."""
    if time_s is None:
        raise ReviewError("select the peak to remove first")
    if nearest_peak(annotation, time_s, tolerance_s=span.tolerance_s) is None:
        raise ReviewError(f"there is no peak at {time_s:g} s to remove")
    return remove_peak(annotation, time_s, tolerance_s=span.tolerance_s)


def edit_peak_times(annotation: Annotation, shown: Sequence[float], edited: Sequence[float | None],
                    span: RunSpan) -> Annotation:
    """The annotation after editing the time column of a peak table that showed the peaks at ``shown``.

    Rows pair up in order; a changed time moves that peak (it remembers where detection had put it),
    an empty cell removes it. Peaks not shown are left alone.
    """
    if len(edited) != len(shown):
        raise ReviewError(f"the peak table had {len(shown)} rows and now has {len(edited)}: "
                          "add peaks with the Add button, remove one by clearing its time")
    result = annotation
    for old, new in zip(shown, edited):
        if nearest_peak(result, old, tolerance_s=span.tolerance_s) is None:
            raise ReviewError(f"the peak at {old:g} s changed meanwhile; reload the run")
        if new is None or (isinstance(new, float) and np.isnan(new)):
            result = remove_peak(result, old, tolerance_s=span.tolerance_s)
        elif abs(float(new) - old) > span.tolerance_s:
            result = move_peak(result, old, span.check(float(new), "peak time"), tolerance_s=span.tolerance_s)
    return result


def add_interval(annotation: Annotation, start_s: float | None, end_s: float | None, label: str,
                 span: RunSpan) -> Annotation:
    """The annotation with an anomaly interval ``start_s``–``end_s`` labelled ``label``."""
    start_s, end_s = span.check(start_s, "interval start"), span.check(end_s, "interval end")
    if end_s <= start_s:
        raise ReviewError(f"the interval must end after it starts (start {start_s:g} s, end {end_s:g} s)")
    label = (label or "").strip() or "anomaly"
    if len(label) > 100:
        raise ReviewError("an interval label has at most 100 characters")
    interval = AnomalyInterval(start_s=start_s, end_s=end_s, label=label)
    if interval in annotation.intervals:
        raise ReviewError("this interval is already marked")
    intervals = tuple(sorted([*annotation.intervals, interval], key=lambda i: (i.start_s, i.end_s)))
    return annotation.model_copy(update={"intervals": intervals})


def remove_interval(annotation: Annotation, index: int | None) -> Annotation:
    """The annotation without its ``index``-th anomaly interval."""
    if index is None or not 0 <= index < len(annotation.intervals):
        raise ReviewError("select the interval to remove first")
    return annotation.model_copy(update={"intervals": tuple(i for n, i in enumerate(annotation.intervals)
                                                             if n != index)})


# -- previews with other parameters ---------------------------------------------------------------
def parse_overrides(values: Mapping[str, Any], recipe: Recipe) -> dict[str, Any]:
    """The parameters a person changed (empty fields dropped, numbers read from text), checked against the recipe.

    Raises :class:`ReviewError` naming the bad parameter.
    """
    unknown = [k for k in values if k not in PREVIEW_PARAMETERS]
    if unknown:
        raise ReviewError(f"unknown parameter(s) {', '.join(unknown)}")
    overrides = {k: _typed(k, v) for k, v in values.items() if v is not None and str(v).strip() != ""}
    try:
        recipe.with_overrides(overrides)
    except RecipeError as error:
        raise ReviewError(str(error).replace("recipe overrides is invalid:", "bad parameter:")) from None
    return overrides


def _typed(name: str, value: Any) -> Any:
    """A parameter's value as the recipe wants it: whole numbers for windows, numbers for thresholds."""
    kind = NUMERIC_PARAMETERS.get(name)
    if kind is None:
        return value.strip() if isinstance(value, str) else value
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ReviewError(f"{name} must be a number, got {value!r}") from None
    if kind is int:
        if not number.is_integer():
            raise ReviewError(f"{name} must be a whole number of samples, got {value!r}")
        return int(number)
    return number


def preview_processing(raw: pl.DataFrame, recipe: Recipe, overrides: Mapping[str, Any]) -> Preview:
    """Smooth and search peaks on ``raw`` with ``overrides`` applied to ``recipe``, in memory.

    The channel is ``peaks.channel`` of the overrides or recipe, else the first value channel.
    """
    tuned = recipe.with_overrides(overrides)
    try:
        channel = peak_channel(raw, tuned)
    except UnknownChannel as error:
        raise ReviewError(f"unknown channel {error.channel!r}; this run has {', '.join(error.known)}") from None
    result = apply_recipe(raw.select("time_s", channel), tuned)
    return Preview(dict(overrides), channel, result.cleaned, result.peaks.table, result.peaks.thresholds)


def keep_preview(annotation: Annotation, preview: Preview) -> Annotation:
    """The annotation with the previewed peaks (as detected) and the parameters that found them."""
    marks = [PeakMark(time_s=float(t), origin="detected") for t in preview.peak_times]
    return annotation.model_copy(update={"peaks": tuple(marks), "channel": preview.channel,
                                         "recipe_overrides": dict(preview.overrides)})


# -- storing, confirming --------------------------------------------------------------------------
def save_edit(store: ReviewStore, session: ReviewSession, annotation: Annotation, *, action: str,
              summary: str, details: dict[str, Any] | None = None) -> ReviewSession:
    """Keep ``annotation`` as the session's draft, recording ``action`` with ``summary`` in the audit trail."""
    store.save_draft(session.run_key, session.author, annotation, base_version=session.base_version,
                     action=action, summary=summary, details=details)
    return replace(session, annotation=annotation, source="your draft")


def confirm(store: ReviewStore, session: ReviewSession) -> ConfirmOutcome:
    """Make the session's annotation the next version, or report the conflict (the draft is kept)."""
    if "other" in session.annotation.reasons and not session.annotation.note:
        raise ReviewError("reason 'Other' needs a note saying what is wrong")
    try:
        version = store.confirm(session.run_key, session.author, session.annotation,
                                base_version=session.base_version)
    except ConfirmConflict as conflict:
        head = conflict.head.version
        return ConfirmOutcome(replace(session, head_version=head, source="your draft"),
                              conflict_report(conflict, session.annotation))
    word = "Confirmed" if version.annotation.accepted else "Rejected"
    message = f"{word} as version {version.version}: " + ("; ".join(version.changes) or "no change")
    return ConfirmOutcome(ReviewSession(session.run_key, session.author, version.version, version.annotation,
                                        f"version {version.version} by {version.author}", version.version),
                          message, version)


def conflict_report(conflict: ConfirmConflict, mine: Annotation) -> str:
    """The store's conflict message plus how the person's annotation differs from the newer version."""
    differences = describe_changes(conflict.head.annotation, mine)
    yours = "; ".join(differences) if differences else "none (you agree with them)"
    return (f"{conflict}\nYour annotation compared with version {conflict.head.version}: {yours}.\n"
            "Use 'Continue from the newest version' to keep your edits on top of it, "
            "or discard your draft to take theirs.")


def rebase(store: ReviewStore, session: ReviewSession) -> ReviewSession:
    """Keep the session's edits but start them from the newest confirmed version."""
    head = store.latest_version(session.run_key)
    head_version = head.version if head else 0
    rebased = replace(session, base_version=head_version, head_version=head_version)
    return save_edit(store, rebased, session.annotation, action="save_draft",
                     summary=f"continued from version {head_version}", details={"base_version": head_version})


def discard(store: ReviewStore, session: ReviewSession, *, detected: Annotation) -> ReviewSession:
    """Drop the person's draft and start again from the newest version (or the detection)."""
    store.discard_draft(session.run_key, session.author)
    head = store.latest_version(session.run_key)
    if head is None:
        return ReviewSession(session.run_key, session.author, 0, detected, "the detected peaks", 0)
    return ReviewSession(session.run_key, session.author, head.version, head.annotation,
                         f"version {head.version} by {head.author}", head.version)


def draft_objective(run: RunRecord, recipe: Recipe, cleaned: pl.DataFrame,
                    session: ReviewSession) -> tuple[ObjectiveValue, pl.DataFrame]:
    """What the confirmed dataset would hold if the draft were confirmed now: objective and measured peaks.

    Computed by :func:`labflow.review.confirmed.annotation_output`, the function the ``annotations`` asset uses.
    """
    version = AnnotationVersion(0, session.run_key, session.base_version + 1, session.base_version,
                                session.author, datetime.now(timezone.utc), session.annotation, [])
    stored, peaks = annotation_output(run, version, recipe, cleaned)
    objective = stored["objective"]
    return ObjectiveValue(objective["kind"], objective["value"], objective["detail"],
                          objective.get("peak_time_s")), peaks
