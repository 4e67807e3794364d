"""Pre-annotations: accept, reject, adjust each proposal, or accept all above a confidence."""

from __future__ import annotations

import polars as pl
import pytest

from labflow.review.annotations import Annotation, AnomalyInterval, describe_changes
from labflow.loop.preannotations import (Proposal, ProposalError, accept, accept_above, adjust, decision_of, pending,
                                         proposals_of_run, reject)

P1, P2, P3 = Proposal(10.0, 20.0, 0.95, 2), Proposal(30.0, 35.0, 0.55, 2), Proposal(50.0, 60.0, 0.8, 2)


def test_accept_reject_adjust_keep_a_note_of_what_was_proposed():
    annotation = Annotation(intervals=(AnomalyInterval(start_s=1, end_s=2, label="by hand"),))
    annotation = accept(annotation, P1)
    annotation = reject(annotation, P2)
    annotation = adjust(annotation, P3, 52.0, 58.5)
    assert [(i.start_s, i.end_s, i.label) for i in annotation.intervals] == [
        (1.0, 2.0, "by hand"), (10.0, 20.0, "anomaly"), (52.0, 58.5, "anomaly")]
    assert [(p.start_s, p.decision, p.confidence, p.iteration) for p in annotation.proposals] == [
        (10.0, "accepted", 0.95, 2), (30.0, "rejected", 0.55, 2), (50.0, "adjusted", 0.8, 2)]
    assert pending([P1, P2, P3], annotation) == [] and decision_of(P2, annotation) == "rejected"
    restored = Annotation.model_validate(annotation.model_dump(mode="json"))
    assert restored == annotation
    changes = describe_changes(Annotation(), annotation)
    assert "proposal rejected: 30–35 s (confidence 0.55)" in changes
    assert "interval added: anomaly 10–20 s" in changes


def test_accept_all_above_a_confidence_leaves_the_rest_pending():
    annotation = accept_above(Annotation(), [P1, P2, P3], 0.8)
    assert [i.start_s for i in annotation.intervals] == [10.0, 50.0]
    assert pending([P1, P2, P3], annotation) == [P2]
    assert accept_above(annotation, [P1, P2, P3], 0.8) == annotation  # decided ones are left alone
    with pytest.raises(ProposalError, match="between 0 and 1"):
        accept_above(annotation, [P2], 1.5)


def test_bad_decisions_are_refused():
    annotation = accept(Annotation(), P1)
    with pytest.raises(ProposalError, match="already accepted"):
        reject(annotation, P1)
    with pytest.raises(ProposalError, match="end after it starts"):
        adjust(annotation, P2, 35.0, 30.0)
    with pytest.raises(ProposalError, match="start and end"):
        adjust(annotation, P2, None, 30.0)


def test_old_annotations_without_proposals_still_load():
    old = {"verdict": "valid", "reasons": [], "note": "", "channel": None, "peaks": [], "intervals": [],
           "recipe_overrides": {}}
    assert Annotation.model_validate(old).proposals == ()


def test_proposals_of_a_run_from_the_inference_output():
    frame = pl.DataFrame({"run_key": ["a", "b", "a"], "start_s": [5.0, 1.0, 2.0], "end_s": [6.0, 2.0, 3.0],
                          "confidence": [0.6, 0.7, 0.9], "windows": [1, 1, 2]})
    assert proposals_of_run(frame, "a", 3) == [Proposal(2.0, 3.0, 0.9, 3), Proposal(5.0, 6.0, 0.6, 3)]
    assert proposals_of_run(frame.head(0), "a") == []
