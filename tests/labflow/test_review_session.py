"""A person's review session: checked edits, previews with other parameters, confirmation and conflicts."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import polars as pl
import pytest

from labflow.review.annotations import Annotation, PeakMark
from labflow.store.catalog import Catalog
from labflow.processing.peaks import detect_peaks
from labflow.processing.recipes import Recipe
from labflow.review.store import ReviewStore
from labflow.review.session import (ReviewError, RunSpan, add_interval, add_peak_at, confirm, detected_annotation,
                                    discard, edit_peak_times, keep_preview, move_peak_to, open_session,
                                    parse_overrides, preview_processing, rebase, remove_interval, remove_peak_at,
                                    save_edit, with_marking)
from labflow.processing.smoothing import clean_series

SPAN = RunSpan(0.0, 40.0)
DETECTED = Annotation(channel="signal", peaks=(PeakMark(time_s=10.0), PeakMark(time_s=25.0)))


@pytest.fixture
def store(catalog: Catalog) -> ReviewStore:
    catalog.register_file(run_key="r1", sha256="a" * 64, size_bytes=1, original_name="r1.csv", source="inbox:r1.csv",
                          object_path="/o/r1", sidecar_name=None, sidecar_text=None,
                          detected_at=datetime(2024, 1, 1, tzinfo=timezone.utc))
    return ReviewStore(catalog)


def raw_series(n: int = 2000) -> pl.DataFrame:
    rng = np.random.default_rng(3)
    t = np.arange(n) * 0.02
    y = 5 * np.exp(-0.5 * ((t - 10) / 0.3) ** 2) + 0.8 * np.exp(-0.5 * ((t - 30) / 0.3) ** 2)
    return pl.DataFrame({"time_s": t, "signal": y + rng.normal(0, 0.05, n)})


def test_peak_edits_are_checked():
    added = add_peak_at(DETECTED, 17.5, SPAN)
    assert [(p.time_s, p.origin) for p in added.peaks] == [(10.0, "detected"), (17.5, "added"), (25.0, "detected")]
    with pytest.raises(ReviewError, match="already a peak at 10 s"):
        add_peak_at(DETECTED, 10.0, SPAN)
    with pytest.raises(ReviewError, match=r"outside the run \(0–40 s\)"):
        add_peak_at(DETECTED, 41.0, SPAN)
    moved = move_peak_to(DETECTED, 25.0, 27.0, SPAN)
    assert moved.peaks[1] == PeakMark(time_s=27.0, origin="moved", detected_time_s=25.0)
    with pytest.raises(ReviewError, match="select the peak to move"):
        move_peak_to(DETECTED, None, 27.0, SPAN)
    assert [p.time_s for p in remove_peak_at(DETECTED, 10.0, SPAN).peaks] == [25.0]
    with pytest.raises(ReviewError, match="no peak at 11 s"):
        remove_peak_at(DETECTED, 11.0, SPAN)


def test_a_peak_table_edit_moves_and_removes_by_row():
    edited = edit_peak_times(DETECTED, [10.0, 25.0], [12.0, None], SPAN)
    assert edited.peaks == (PeakMark(time_s=12.0, origin="moved", detected_time_s=10.0),)
    assert edit_peak_times(DETECTED, [25.0], [25.0], SPAN) == DETECTED  # rows shown: the peaks in view
    with pytest.raises(ReviewError, match="had 2 rows and now has 3"):
        edit_peak_times(DETECTED, [10.0, 25.0], [10.0, 25.0, 30.0], SPAN)


def test_intervals_and_marking_are_checked():
    marked = add_interval(DETECTED, 5.0, 7.5, "  bubble ", SPAN)
    assert [(i.start_s, i.end_s, i.label) for i in marked.intervals] == [(5.0, 7.5, "bubble")]
    with pytest.raises(ReviewError, match="already marked"):
        add_interval(marked, 5.0, 7.5, "bubble", SPAN)
    with pytest.raises(ReviewError, match="end after it starts"):
        add_interval(DETECTED, 7.5, 5.0, "x", SPAN)
    assert remove_interval(marked, 0).intervals == ()
    with pytest.raises(ReviewError, match="select the interval"):
        remove_interval(marked, 3)
    assert with_marking(DETECTED, "invalid", ["noise", "noise"], " drift ").reasons == ("noise",)
    with pytest.raises(ReviewError, match="choose a verdict"):
        with_marking(DETECTED, "fine", [], "")
    with pytest.raises(ReviewError, match="unknown reason"):
        with_marking(DETECTED, "invalid", ["cosmic_rays"], "")


def test_overrides_are_validated_against_the_recipe():
    recipe = Recipe(id="t")
    assert parse_overrides({"smoothing.window": 21.0, "peaks.mode": "", "peaks.min_prominence": None},
                           recipe) == {"smoothing.window": 21}
    assert parse_overrides({"smoothing.window": " 21 ", "peaks.min_prominence": "0.5", "smoothing.baseline": ""},
                           recipe) == {"smoothing.window": 21, "peaks.min_prominence": 0.5}
    with pytest.raises(ReviewError, match="smoothing.window: Input should be greater than or equal to 1"):
        parse_overrides({"smoothing.window": "0"}, recipe)
    with pytest.raises(ReviewError, match="whole number of samples"):
        parse_overrides({"smoothing.window": "2.5"}, recipe)
    with pytest.raises(ReviewError, match="peaks.min_height must be a number, got 'tall'"):
        parse_overrides({"peaks.min_height": "tall"}, recipe)
    with pytest.raises(ReviewError, match="peaks.min_prominence: Input should be greater than 0"):
        parse_overrides({"peaks.min_prominence": "0"}, recipe)
    with pytest.raises(ReviewError, match="unknown parameter"):
        parse_overrides({"quality.min_score": 0.2}, recipe)


def test_a_preview_is_the_pipeline_with_other_parameters_in_memory():
    raw = raw_series()
    recipe = Recipe(id="t")
    preview = preview_processing(raw, recipe, {"smoothing.window": 15, "peaks.min_prominence": 2.0})
    tuned = recipe.with_overrides({"smoothing.window": 15, "peaks.min_prominence": 2.0})
    expected = detect_peaks(raw["time_s"].to_numpy(),
                            clean_series(raw, ["signal"], tuned.smoothing)["signal_clean"].to_numpy(), tuned.peaks)
    assert preview.peaks.equals(expected.table) and [round(t) for t in preview.peak_times] == [10]
    kept = keep_preview(DETECTED, preview)
    assert [p.time_s for p in kept.peaks] == preview.peak_times and kept.channel == "signal"
    assert kept.recipe_overrides == {"smoothing.window": 15, "peaks.min_prominence": 2.0}
    with pytest.raises(ReviewError, match="unknown channel 'pressure'; this run has signal"):
        preview_processing(raw, recipe, {"peaks.channel": "pressure"})


def test_detection_is_where_an_unreviewed_run_starts(store):
    table = pl.DataFrame({"time_s": [3.0, 9.5]})
    assert detected_annotation(table, "signal").peaks == (PeakMark(time_s=3.0), PeakMark(time_s=9.5))
    session = open_session(store, "r1", "ana", detected=DETECTED)
    assert (session.base_version, session.annotation, session.stale) == (0, DETECTED, False)


def test_a_conflict_keeps_the_draft_and_says_what_both_changed(store):
    ana = open_session(store, "r1", "ana", detected=DETECTED)
    ben = open_session(store, "r1", "ben", detected=DETECTED)
    ana = save_edit(store, ana, move_peak_to(ana.annotation, 25.0, 26.0, SPAN), action="edit_peaks", summary="m")
    ben = save_edit(store, ben, with_marking(ben.annotation, "invalid", ["noise"], ""), action="mark", summary="m")
    assert not confirm(store, ana).conflict
    outcome = confirm(store, ben)
    assert outcome.conflict and outcome.session.stale
    assert "confirmed as version 1 by ana" in outcome.message
    assert "Their changes: first annotation: valid, 2 peak(s)" in outcome.message
    assert "Your annotation compared with version 1: verdict valid → invalid; reasons none → noise; " \
           "peak added at 25 s; peak removed at 26 s" in outcome.message
    assert store.get_draft("r1", "ben").annotation == ben.annotation
    resumed = open_session(store, "r1", "ben", detected=DETECTED)
    assert resumed.stale and resumed.annotation == ben.annotation
    second = confirm(store, rebase(store, resumed))
    assert second.version.version == 2 and second.version.annotation.verdict == "invalid"


def test_other_needs_a_note_and_a_discarded_draft_goes_back_to_the_newest_version(store):
    session = open_session(store, "r1", "ana", detected=DETECTED)
    session = save_edit(store, session, with_marking(session.annotation, "invalid", ["other"], ""),
                        action="mark", summary="m")
    with pytest.raises(ReviewError, match="needs a note"):
        confirm(store, session)
    fresh = discard(store, session, detected=DETECTED)
    assert fresh.annotation == DETECTED and store.get_draft("r1", "ana") is None
    assert [e.action for e in store.audit_trail("r1")] == ["open", "mark", "discard_draft"]
