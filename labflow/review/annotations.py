"""What a person says about a run: verdict, reasons, corrected peaks and anomaly intervals.

An :class:`Annotation` is plain data (Pydantic): the labelling app edits it as a draft and the
review store (:mod:`labflow.review.store`) keeps every confirmed one as an immutable version. Nothing in
here touches a database; :func:`describe_changes` says in words what differs between two
annotations (shown on a conflict and in the history).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Verdict = Literal["valid", "invalid", "failed_experiment", "peaks_wrong"]
VERDICTS: tuple[str, ...] = ("valid", "invalid", "failed_experiment", "peaks_wrong")
# Verdicts whose run (with its corrected peaks) enters the confirmed dataset.
ACCEPTED_VERDICTS = frozenset({"valid", "peaks_wrong"})

REASONS: dict[str, str] = {
    "baseline_drift": "Baseline drift",
    "noise": "Too noisy",
    "saturation": "Detector saturated / clipped",
    "missed_peak": "A peak was missed",
    "false_peak": "A detected peak is not real",
    "peak_position": "A peak is at the wrong position",
    "sample_problem": "Sample preparation problem",
    "instrument_fault": "Instrument fault",
    "wrong_metadata": "Wrong metadata (operator, material, experiment)",
    "other": "Other (see note)",
}

PeakOrigin = Literal["detected", "added", "moved"]


class PeakMark(BaseModel):
    """One peak as the person accepts it: where it is and where it came from."""

    model_config = ConfigDict(frozen=True)

    time_s: float
    origin: PeakOrigin = "detected"
    detected_time_s: float | None = Field(None, description="For a moved peak: where detection had put it.")


class AnomalyInterval(BaseModel):
    """A stretch of the run marked as anomalous (``start_s`` < ``end_s``) with a label."""

    model_config = ConfigDict(frozen=True)

    start_s: float
    end_s: float
    label: str = Field("anomaly", min_length=1, max_length=100)

    @model_validator(mode="after")
    def _ordered(self) -> "AnomalyInterval":
        if not self.end_s > self.start_s:
            raise ValueError(f"anomaly interval must end after it starts (start {self.start_s}, end {self.end_s})")
        return self


ProposalDecision = Literal["accepted", "rejected", "adjusted"]


class ProposalReview(BaseModel):
    """What a person decided about an anomaly interval the model proposed (kept as a note of what was proposed).

    ``start_s``/``end_s`` are the proposal as the model made it; an adjusted one was kept with other bounds.
    """

    model_config = ConfigDict(frozen=True)

    start_s: float
    end_s: float
    confidence: float = Field(ge=0.0, le=1.0)
    iteration: int | None = None
    decision: ProposalDecision


class Annotation(BaseModel):
    """A complete annotation of one run. Editing it is a draft; confirming it makes a version."""

    model_config = ConfigDict(frozen=True)

    verdict: Verdict = "valid"
    reasons: tuple[str, ...] = ()
    note: str = Field("", max_length=5000)
    channel: str | None = Field(None, description="Channel the peaks refer to.")
    peaks: tuple[PeakMark, ...] = ()
    intervals: tuple[AnomalyInterval, ...] = ()
    recipe_overrides: dict[str, float | int | str | bool] = Field(
        default_factory=dict, description="Smoothing/peak parameters the person kept (dotted recipe paths).")
    proposals: tuple[ProposalReview, ...] = Field(
        (), description="Model-proposed anomaly intervals this annotation reviewed, and what was decided.")

    @field_validator("reasons")
    @classmethod
    def _known_reasons(cls, reasons: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [r for r in reasons if r not in REASONS]
        if unknown:
            raise ValueError(f"unknown reason(s) {', '.join(unknown)}; use {', '.join(REASONS)}")
        return tuple(dict.fromkeys(reasons))

    @field_validator("peaks")
    @classmethod
    def _sorted_peaks(cls, peaks: tuple[PeakMark, ...]) -> tuple[PeakMark, ...]:
        return tuple(sorted(peaks, key=lambda p: p.time_s))

    @property
    def accepted(self) -> bool:
        """Whether a confirmed annotation with this verdict puts the run into the confirmed dataset."""
        return self.verdict in ACCEPTED_VERDICTS

    def with_peaks(self, peaks: list[PeakMark] | tuple[PeakMark, ...]) -> "Annotation":
        """A copy with these peaks."""
        return self.model_copy(update={"peaks": tuple(sorted(peaks, key=lambda p: p.time_s))})


def add_peak(annotation: Annotation, time_s: float) -> Annotation:
    """The annotation with a peak added by hand at ``time_s``."""
    return annotation.with_peaks([*annotation.peaks, PeakMark(time_s=time_s, origin="added")])


def remove_peak(annotation: Annotation, time_s: float, *, tolerance_s: float) -> Annotation:
    """The annotation without the peak nearest ``time_s`` (within ``tolerance_s``); unchanged if none."""
    index = nearest_peak(annotation, time_s, tolerance_s=tolerance_s)
    if index is None:
        return annotation
    return annotation.with_peaks([p for i, p in enumerate(annotation.peaks) if i != index])


def move_peak(annotation: Annotation, from_s: float, to_s: float, *, tolerance_s: float) -> Annotation:
    """The annotation with the peak nearest ``from_s`` moved to ``to_s``; unchanged if no peak is near."""
    index = nearest_peak(annotation, from_s, tolerance_s=tolerance_s)
    if index is None:
        return annotation
    old = annotation.peaks[index]
    detected = old.detected_time_s if old.origin == "moved" else old.time_s
    moved = PeakMark(time_s=to_s, origin="added" if old.origin == "added" else "moved",
                     detected_time_s=None if old.origin == "added" else detected)
    return annotation.with_peaks([moved if i == index else p for i, p in enumerate(annotation.peaks)])


def nearest_peak(annotation: Annotation, time_s: float, *, tolerance_s: float) -> int | None:
    """Index of the peak closest to ``time_s`` if it is within ``tolerance_s``."""
    if not annotation.peaks:
        return None
    distances = [abs(p.time_s - time_s) for p in annotation.peaks]
    best = min(range(len(distances)), key=distances.__getitem__)
    return best if distances[best] <= tolerance_s else None


def describe_changes(before: Annotation | None, after: Annotation) -> list[str]:
    """What differs from ``before`` to ``after``, one short sentence per change."""
    if before is None:
        reviewed = f", {len(after.proposals)} model proposal(s) reviewed" if after.proposals else ""
        return [f"first annotation: {after.verdict}, {len(after.peaks)} peak(s), "
                f"{len(after.intervals)} interval(s){reviewed}"]
    changes: list[str] = []
    if before.verdict != after.verdict:
        changes.append(f"verdict {before.verdict} → {after.verdict}")
    if set(before.reasons) != set(after.reasons):
        changes.append(f"reasons {', '.join(before.reasons) or 'none'} → {', '.join(after.reasons) or 'none'}")
    if before.note != after.note:
        changes.append("note changed")
    changes.extend(_peak_changes(before.peaks, after.peaks))
    added = set(after.intervals) - set(before.intervals)
    removed = set(before.intervals) - set(after.intervals)
    changes.extend(f"interval added: {i.label} {i.start_s:g}–{i.end_s:g} s" for i in sorted(added, key=_start))
    changes.extend(f"interval removed: {i.label} {i.start_s:g}–{i.end_s:g} s" for i in sorted(removed, key=_start))
    reviewed = set(after.proposals) - set(before.proposals)
    changes.extend(f"proposal {p.decision}: {p.start_s:g}–{p.end_s:g} s (confidence {p.confidence:.2f})"
                   for p in sorted(reviewed, key=_start))
    if before.recipe_overrides != after.recipe_overrides:
        changes.append(f"parameters {before.recipe_overrides or 'recipe'} → {after.recipe_overrides or 'recipe'}")
    return changes


def _start(interval: AnomalyInterval | ProposalReview) -> float:
    return interval.start_s


def _peak_changes(before: tuple[PeakMark, ...], after: tuple[PeakMark, ...]) -> list[str]:
    """Moves (a detected peak now elsewhere), then additions and removals."""
    old = {round(p.time_s, 9): p for p in before}
    new = {round(p.time_s, 9): p for p in after}
    added, removed = sorted(set(new) - set(old)), sorted(set(old) - set(new))
    moves = []
    for time_s in list(added):
        origin = new[time_s].detected_time_s
        source = next((t for t in removed if origin is not None and _identity(old[t]) == round(origin, 9)), None)
        if source is not None:
            moves.append(f"peak moved from {source:g} s to {time_s:g} s")
            added.remove(time_s)
            removed.remove(source)
    return moves + [f"peak added at {t:g} s" for t in added] + [f"peak removed at {t:g} s" for t in removed]


def _identity(peak: PeakMark) -> float:
    """Where detection put a peak (its own time unless it was moved)."""
    return round(peak.detected_time_s if peak.detected_time_s is not None else peak.time_s, 9)
