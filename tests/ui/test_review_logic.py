"""The run view's logic on real processed runs: drafts, edits, previews, confirmation, conflicts, lazy mode."""

from __future__ import annotations

import threading
import time

import dagster as dg
import numpy as np
import pandas as pd
import polars as pl
import pytest

from lab_assets.etl import run_etl
from labflow.processing.peaks import measure_peaks
from labflow.review.session import ReviewError
from tests.lab_fixtures import register_run
from tests.ui.conftest import two_peak_csv
from ui import review_logic as logic
from ui.charts import PEAKS_SERIES, PREVIEW_PEAKS_SERIES
from ui.downloads import cleaned_series_files
from ui.review_logic import NO_NAME, PEAK_TABLE_COLUMNS


def peak_times(ctx, state) -> list[float]:
    return [round(p.time_s, 6) for p in ctx.store.get_draft(state.run_key, state.session.author).annotation.peaks]


def cleaned(ctx, key: str) -> pl.DataFrame:
    return ctx.outputs.read_frame("clean_series", key)


def expected_height(ctx, key: str, times: list[float]) -> float:
    frame = cleaned(ctx, key)
    table = measure_peaks(frame["time_s"].to_numpy(), frame["signal_mV_clean"].to_numpy(), np.array(times))
    return float(table["height"].max())


def test_opening_a_run_starts_from_the_detected_peaks(app_context, processed_run):
    state = logic.open_run(app_context, processed_run, "ana")
    assert state.session.base_version == 0 and state.session.source == "the detected peaks"
    assert [round(p.time_s) for p in state.session.annotation.peaks] == [10, 25]
    view = logic.render(app_context, state)
    assert view.ready and view.verdict == "valid" and view.shown_channels == ["signal_mV"]
    assert len(view.chart.frame[view.chart.frame["series"] == PEAKS_SERIES]) == 8  # 2 markers, 4 rows each
    assert list(view.peak_table.columns) == list(PEAK_TABLE_COLUMNS) and len(view.peak_table) == 2
    assert f"**{expected_height(app_context, processed_run, [10.0, 25.0]):.6g}**" in view.objective
    assert [e.action for e in app_context.store.audit_trail(processed_run)] == ["open"]


def test_edits_stay_a_draft_until_confirmed(app_context, processed_run):
    store = app_context.store
    state = logic.open_run(app_context, processed_run, "ana")
    state = logic.mark(app_context, state, "ana", "peaks_wrong", ["peak_position"], "the first peak is a ghost")
    state = logic.move_peak(app_context, state, "ana", 10.0, 17.0)
    assert peak_times(app_context, state) == [17.0, 25.0]
    assert store.latest_version(processed_run) is None
    assert app_context.catalog.get_run(processed_run).review_status == "needs_review"
    # someone else opening the run does not see ana's draft
    other = logic.open_run(app_context, processed_run, "ben")
    assert [round(p.time_s) for p in other.session.annotation.peaks] == [10, 25]

    state, message, counted = logic.confirm_draft(app_context, state, "ana", "peaks_wrong", ["peak_position"],
                                                  "the first peak is a ghost")
    assert counted and message.startswith("Confirmed as version 1")
    version = store.latest_version(processed_run)
    assert version.version == 1 and version.annotation.verdict == "peaks_wrong"
    moved = [p for p in version.annotation.peaks if p.origin == "moved"]
    assert [(p.time_s, p.detected_time_s) for p in moved] == [(17.0, pytest.approx(10.0, abs=0.05))]
    assert store.get_draft(processed_run, "ana") is None
    assert logic.render(app_context, state).draft.startswith("Editing as **ana**, starting from version 1")
    actions = [e.action for e in store.audit_trail(processed_run)]
    assert actions == ["open", "mark", "edit_peaks", "open", "confirm"]
    assert all(e.actor in ("ana", "ben") and e.at is not None for e in store.audit_trail(processed_run))


def test_nothing_is_recorded_without_a_name(app_context, processed_run):
    state = logic.open_run(app_context, processed_run, "")
    assert state.session is None
    with pytest.raises(ReviewError, match="Type your name"):
        logic.add_peak(app_context, state, "  ", 15.0)
    assert NO_NAME.startswith("Type your name")
    assert app_context.store.audit_trail(processed_run) == []
    assert "Type your name at the top" in logic.render(app_context, state).draft


@pytest.mark.parametrize("action, message", [
    (lambda ctx, s: logic.move_peak(ctx, s, "ana", 10.0, 400.0), "outside the run"),
    (lambda ctx, s: logic.move_peak(ctx, s, "ana", 12.0, 15.0), "no peak at 12 s"),
    (lambda ctx, s: logic.add_peak(ctx, s, "ana", None), "enter a time"),
    (lambda ctx, s: logic.mark_interval(ctx, s, "ana", 30.0, 20.0, "bubble"), "must end after it starts"),
    (lambda ctx, s: logic.set_channels(ctx, s, ["pressure"], True, False), "unknown channel"),
    (lambda ctx, s: logic.preview(ctx, s, "ana", {"smoothing.window": 0}), "smoothing.window"),
    (lambda ctx, s: logic.preview(ctx, s, "ana", {"peaks.channel": "pressure"}), "unknown channel 'pressure'"),
    (lambda ctx, s: logic.edit_table(ctx, s, "ana", pd.DataFrame({"time (s)": [10.0]})), "had 2 rows"),
])
def test_bad_input_is_refused_and_the_draft_kept(app_context, processed_run, action, message):
    state = logic.open_run(app_context, processed_run, "ana")
    state = logic.move_peak(app_context, state, "ana", 25.0, 26.0)
    with pytest.raises(ReviewError, match=message):
        action(app_context, state)
    assert peak_times(app_context, state) == [pytest.approx(10.0, abs=0.05), 26.0]


def test_peaks_edited_in_the_table_and_on_the_chart(app_context, processed_run):
    state = logic.open_run(app_context, processed_run, "ana")
    table = logic.render(app_context, state).peak_table
    first = float(table["time (s)"][0])
    table.loc[0, "time (s)"] = 12.5
    table.loc[1, "time (s)"] = None
    state = logic.edit_table(app_context, state, "ana", table)
    assert peak_times(app_context, state) == [12.5]
    assert state.session.annotation.peaks[0].detected_time_s == first
    # dragging across the second peak in "add" mode puts a peak on its apex
    state, _ = logic.drag(app_context, state, "ana", "add", 24.0, 26.0, None)
    frame = cleaned(app_context, processed_run).filter(pl.col("time_s").is_between(24.0, 26.0))
    apex = float(frame["time_s"][int(frame["signal_mV_clean"].arg_max())])
    assert peak_times(app_context, state) == [12.5, apex]
    state, bounds = logic.drag(app_context, state, "ana", "interval", 33.0, 31.0, None)
    assert bounds == (31.0, 33.0)
    state, _ = logic.drag(app_context, state, "ana", "zoom", 20.0, 30.0, None)
    view = logic.render(app_context, state)
    assert state.window == (20.0, 30.0) and list(view.peak_table["time (s)"]) == [apex]


def test_a_preview_changes_nothing_until_kept(app_context, processed_run):
    state = logic.open_run(app_context, processed_run, "ana")
    state = logic.preview(app_context, state, "ana", {"peaks.min_prominence": 4.0, "smoothing.window": 7})
    view = logic.render(app_context, state)
    assert PREVIEW_PEAKS_SERIES in set(view.chart.frame["series"]) and "**1 peaks**" in view.preview
    assert app_context.store.get_draft(processed_run, "ana") is None
    state = logic.keep(app_context, state, "ana")
    draft = app_context.store.get_draft(processed_run, "ana").annotation
    assert [round(p.time_s) for p in draft.peaks] == [10]
    assert draft.recipe_overrides == {"peaks.min_prominence": 4.0, "smoothing.window": 7, "peaks.channel": "signal_mV"}
    assert state.preview_id is None
    assert [e.action for e in app_context.store.audit_trail(processed_run)] == ["open", "preview_params", "edit_peaks"]


def test_two_people_confirming_the_same_version_one_wins_and_nothing_is_lost(app_context, processed_run):
    ana = logic.open_run(app_context, processed_run, "ana")
    ben = logic.open_run(app_context, processed_run, "ben")
    ana = logic.move_peak(app_context, ana, "ana", 25.0, 26.0)
    ben = logic.remove_peak(app_context, ben, "ben", ben.session.annotation.peaks[0].time_s)
    barrier = threading.Barrier(2)
    results: dict[str, tuple] = {}

    def confirm(name: str, state) -> None:
        barrier.wait()
        results[name] = logic.confirm_draft(app_context, state, name, "peaks_wrong", ["peak_position"], "")

    threads = [threading.Thread(target=confirm, args=(n, s)) for n, s in (("ana", ana), ("ben", ben))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    counted = {name: result[2] for name, result in results.items()}
    assert sorted(counted.values()) == [False, True]
    winner = next(n for n, ok in counted.items() if ok)
    loser = next(n for n, ok in counted.items() if not ok)
    message = results[loser][1]
    assert f"confirmed as version 1 by {winner}" in message and "Their changes:" in message
    assert "Your annotation compared with version 1:" in message
    assert app_context.store.get_draft(processed_run, loser) is not None  # nothing lost
    assert [v.author for v in app_context.store.history(processed_run)] == [winner]

    state = logic.continue_from_newest(app_context, results[loser][0], loser)
    state, message, ok = logic.confirm_draft(app_context, state, loser, "peaks_wrong", ["peak_position"], "")
    assert ok and message.startswith("Confirmed as version 2")
    history = app_context.store.history(processed_run)
    assert [v.author for v in history] == [winner, loser]
    assert {len(v.annotation.peaks) for v in history} == {1, 2}  # both people's data kept
    actions = [e.action for e in app_context.store.audit_trail(processed_run)]
    assert actions.count("conflict") == 1 and actions.count("confirm") == 2


def test_the_objective_shown_is_what_the_dataset_gets(app_context, processed_run):
    state = logic.open_run(app_context, processed_run, "ana")
    state = logic.move_peak(app_context, state, "ana", state.session.annotation.peaks[0].time_s, 17.0)
    expected = expected_height(app_context, processed_run, [17.0, 25.0])
    assert expected < 3.5  # the 5 mV peak no longer counts
    assert f"**{expected:.6g}**" in logic.render(app_context, state).objective


def test_opening_a_run_in_lazy_mode_requests_its_outputs(app_context, lab_settings, instance, lab_resources):
    key = register_run(lab_settings, app_context.catalog, instance, "lazy.csv", two_peak_csv(seed=4))
    assert dg.materialize([run_etl], selection=["raw_file", "raw_series"], instance=instance,
                          resources=lab_resources, partition_key=key).success
    state = logic.open_run(app_context, key, "ana")
    assert state.pending_run is not None and state.session is None
    assert logic.render(app_context, state).polling
    deadline = time.monotonic() + 120
    progress = None
    while state.pending_run is not None and time.monotonic() < deadline:
        time.sleep(0.5)
        state, progress = logic.follow_request(app_context, state, "ana")
    assert progress is not None and progress.ok, progress
    assert state.session is not None and len(state.session.annotation.peaks) == 2
    assert app_context.gateway.latest("peaks", key) is not None
    assert logic.render(app_context, state).ready


def test_a_failed_run_shows_its_error_and_requests_nothing(app_context, lab_settings, instance, lab_resources):
    key = register_run(lab_settings, app_context.catalog, instance, "bad.csv", b"time,value\n1,2\n2,abc\n3,4\n")
    dg.materialize([run_etl], instance=instance, resources=lab_resources, partition_key=key, raise_on_error=False)
    state = logic.open_run(app_context, key, "ana")
    view = logic.render(app_context, state)
    assert state.pending_run is None and not view.ready
    assert "Processing failed" in view.status and "abc" in view.status


def test_the_cleaned_series_downloads_as_csv_and_parquet(app_context, processed_run, tmp_path):
    csv, parquet = cleaned_series_files(app_context.outputs, processed_run, tmp_path)
    stored = cleaned(app_context, processed_run)
    assert pl.read_parquet(parquet).equals(stored)
    assert pl.read_csv(csv).select(stored.columns).with_columns(pl.all().cast(pl.Float64)).equals(
        stored.with_columns(pl.all().cast(pl.Float64)))
    before = csv.stat().st_mtime_ns
    cleaned_series_files(app_context.outputs, processed_run, tmp_path)
    assert csv.stat().st_mtime_ns == before  # unchanged series: not written again


def test_a_peak_placed_on_flat_baseline_is_warned_about_and_its_prominence_recorded(app_context, processed_run):
    state = logic.open_run(app_context, processed_run, "ana")
    state = logic.move_peak(app_context, state, "ana", 10.0, 17.0)  # no peak at 17 s: flat baseline
    assert state.warning.startswith("the peak at 17") and "flat baseline" in state.warning
    entry = app_context.store.audit_trail(processed_run)[-1]
    assert entry.details["prominence"] < 0.2 and "(prominence " in entry.summary  # noise 0.03 mV, peaks 5 mV
    state = logic.move_peak(app_context, state, "ana", 17.0, 10.0)  # back onto the 5 mV peak
    assert state.warning == ""
    assert app_context.store.audit_trail(processed_run)[-1].details["prominence"] == pytest.approx(5.0, abs=0.3)
