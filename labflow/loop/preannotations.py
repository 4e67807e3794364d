"""Pre-annotations: the model's proposed anomaly intervals, reviewed one by one or above a confidence.

A :class:`Proposal` comes from an iteration's ``inference`` output. Accepting adds it as an anomaly
interval; adjusting adds it with the bounds the person gives; rejecting adds nothing. Every decision
is kept in the annotation's ``proposals`` (:class:`~labflow.review.annotations.ProposalReview`), so the
confirmed annotation notes what the model proposed and what the person made of it. These are pure
functions of an :class:`~labflow.review.annotations.Annotation`; the app stores the result as a draft.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from labflow.review.annotations import Annotation, AnomalyInterval, ProposalReview

PROPOSAL_LABEL = "anomaly"
_SAME = 1e-9


class ProposalError(ValueError):
    """A proposal decision that cannot be applied; the message says why."""


@dataclass(frozen=True)
class Proposal:
    """An anomaly interval the model proposes for a run, with its confidence (0–1)."""

    start_s: float
    end_s: float
    confidence: float
    iteration: int | None = None

    def same_as(self, review: ProposalReview) -> bool:
        return abs(review.start_s - self.start_s) <= _SAME and abs(review.end_s - self.end_s) <= _SAME

    def review(self, decision: str) -> ProposalReview:
        return ProposalReview(start_s=self.start_s, end_s=self.end_s, confidence=round(min(max(self.confidence, 0.0),
                                                                                          1.0), 6),
                              iteration=self.iteration, decision=decision)  # type: ignore[arg-type]


def proposals_of_run(proposals: pl.DataFrame, run_key: str, iteration: int | None = None) -> list[Proposal]:
    """The run's proposals from an ``inference`` output frame, in time order."""
    if proposals.height == 0:
        return []
    rows = proposals.filter(pl.col("run_key") == run_key).sort("start_s")
    return [Proposal(float(r["start_s"]), float(r["end_s"]), float(r["confidence"]), iteration)
            for r in rows.iter_rows(named=True)]


def pending(proposals: Sequence[Proposal], annotation: Annotation) -> list[Proposal]:
    """The proposals nobody has decided on yet in this annotation."""
    return [p for p in proposals if not any(p.same_as(r) for r in annotation.proposals)]


def decision_of(proposal: Proposal, annotation: Annotation) -> str | None:
    """``accepted``/``rejected``/``adjusted`` if the annotation decided on the proposal, else ``None``."""
    return next((r.decision for r in annotation.proposals if proposal.same_as(r)), None)


def accept(annotation: Annotation, proposal: Proposal, *, label: str = PROPOSAL_LABEL) -> Annotation:
    """The annotation with the proposed interval as an anomaly interval (decision ``accepted``)."""
    return _decide(annotation, proposal, "accepted", proposal.start_s, proposal.end_s, label)


def adjust(annotation: Annotation, proposal: Proposal, start_s: float | None, end_s: float | None, *,
           label: str = PROPOSAL_LABEL) -> Annotation:
    """The annotation with the proposal kept as ``start_s``–``end_s`` (decision ``adjusted``)."""
    if start_s is None or end_s is None:
        raise ProposalError("give the adjusted interval's start and end in seconds")
    if not end_s > start_s:
        raise ProposalError(f"the adjusted interval must end after it starts (start {start_s:g} s, end {end_s:g} s)")
    return _decide(annotation, proposal, "adjusted", start_s, end_s, label)


def reject(annotation: Annotation, proposal: Proposal) -> Annotation:
    """The annotation noting that the proposal was rejected (no interval added)."""
    return _decide(annotation, proposal, "rejected", None, None, PROPOSAL_LABEL)


def accept_above(annotation: Annotation, proposals: Sequence[Proposal], min_confidence: float) -> Annotation:
    """The annotation with every pending proposal of at least ``min_confidence`` accepted."""
    if not 0.0 <= min_confidence <= 1.0:
        raise ProposalError(f"the confidence must lie between 0 and 1, got {min_confidence:g}")
    for proposal in pending(proposals, annotation):
        if proposal.confidence >= min_confidence:
            annotation = accept(annotation, proposal)
    return annotation


def _decide(annotation: Annotation, proposal: Proposal, decision: str, start_s: float | None,
            end_s: float | None, label: str) -> Annotation:
    if decision_of(proposal, annotation) is not None:
        raise ProposalError(f"the proposal {proposal.start_s:g}–{proposal.end_s:g} s was already "
                            f"{decision_of(proposal, annotation)}; remove its interval by hand to change that")
    intervals = list(annotation.intervals)
    if start_s is not None and end_s is not None:
        interval = AnomalyInterval(start_s=start_s, end_s=end_s, label=(label or PROPOSAL_LABEL).strip()[:100])
        if interval not in intervals:
            intervals.append(interval)
    return annotation.model_copy(update={
        "intervals": tuple(sorted(intervals, key=lambda i: (i.start_s, i.end_s))),
        "proposals": (*annotation.proposals, proposal.review(decision)),
    })
