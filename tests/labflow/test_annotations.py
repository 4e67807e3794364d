"""Annotation edits and change descriptions (plain data, no database)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from labflow.review.annotations import (Annotation, AnomalyInterval, PeakMark, add_peak, describe_changes, move_peak,
                                 nearest_peak, remove_peak)

BASE = Annotation(channel="signal", peaks=(PeakMark(time_s=10.0), PeakMark(time_s=25.0)))


def test_add_remove_and_move_peaks_keep_them_sorted_with_their_origin():
    added = add_peak(BASE, 5.0)
    assert [(p.time_s, p.origin) for p in added.peaks] == [(5.0, "added"), (10.0, "detected"), (25.0, "detected")]
    moved = move_peak(added, 24.6, 26.0, tolerance_s=0.5)
    assert moved.peaks[-1] == PeakMark(time_s=26.0, origin="moved", detected_time_s=25.0)
    moved_again = move_peak(moved, 26.0, 27.0, tolerance_s=0.5)
    assert moved_again.peaks[-1].detected_time_s == 25.0  # remembers where detection put it
    assert move_peak(added, 5.0, 6.0, tolerance_s=0.1).peaks[0] == PeakMark(time_s=6.0, origin="added")
    assert [p.time_s for p in remove_peak(moved, 10.2, tolerance_s=0.5).peaks] == [5.0, 26.0]


def test_edits_far_from_any_peak_change_nothing():
    assert remove_peak(BASE, 17.0, tolerance_s=1.0) == BASE
    assert move_peak(BASE, 17.0, 18.0, tolerance_s=1.0) == BASE
    assert nearest_peak(Annotation(), 3.0, tolerance_s=10) is None


def test_bad_annotations_are_refused_with_the_reason():
    with pytest.raises(ValidationError, match="must end after it starts"):
        AnomalyInterval(start_s=5, end_s=5)
    with pytest.raises(ValidationError, match="unknown reason"):
        Annotation(reasons=("bad_vibes",))
    with pytest.raises(ValidationError):
        Annotation(verdict="maybe")


def test_accepted_verdicts():
    assert Annotation(verdict="valid").accepted and Annotation(verdict="peaks_wrong").accepted
    assert not Annotation(verdict="invalid").accepted and not Annotation(verdict="failed_experiment").accepted


def test_describe_changes_says_what_differs():
    after = Annotation(verdict="peaks_wrong", reasons=("false_peak",), note="ghost", channel="signal",
                       peaks=(PeakMark(time_s=10.0),),
                       intervals=(AnomalyInterval(start_s=1, end_s=2, label="spike"),),
                       recipe_overrides={"smoothing.window": 9})
    assert describe_changes(BASE, after) == [
        "verdict valid → peaks_wrong", "reasons none → false_peak", "note changed", "peak removed at 25 s",
        "interval added: spike 1–2 s", "parameters recipe → {'smoothing.window': 9}",
    ]
    assert describe_changes(None, BASE) == ["first annotation: valid, 2 peak(s), 0 interval(s)"]
    assert describe_changes(BASE, BASE) == []
    moved = move_peak(move_peak(BASE, 25.0, 26.0, tolerance_s=0.5), 26.0, 27.0, tolerance_s=0.5)
    assert describe_changes(BASE, add_peak(moved, 3.0)) == ["peak moved from 25 s to 27 s", "peak added at 3 s"]
