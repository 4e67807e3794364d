"""Pre-annotations in the run view: the newest iteration's proposals, drawn apart, accepted/rejected/adjusted."""

from __future__ import annotations

import polars as pl
import pytest

from labflow.loop.iterations import IterationStore
from labflow.loop.steps import INFERENCE
from labflow.review.session import ReviewError
from ui import review_logic as logic
from ui.charts import PROPOSAL_COLOR, PROPOSALS_SERIES, interval_series


def write_proposals(ctx, run_key: str, rows: list[tuple[float, float, float]]) -> None:
    iteration = IterationStore(ctx.catalog).create("model")
    frame = pl.DataFrame({"run_key": [run_key] * len(rows) + ["other"], "start_s": [r[0] for r in rows] + [1.0],
                          "end_s": [r[1] for r in rows] + [2.0], "confidence": [r[2] for r in rows] + [0.99],
                          "windows": [1] * (len(rows) + 1)})
    ctx.outputs.write_frame(INFERENCE, iteration.key, frame)


def test_no_proposals_without_an_iteration(app_context, processed_run):
    view = logic.render(app_context, logic.open_run(app_context, processed_run, "ana"))
    assert view.proposal_table.empty and "No model proposals" in view.proposal_text
    assert PROPOSALS_SERIES not in set(view.chart.frame["series"])
    with pytest.raises(ReviewError, match="proposed no anomaly"):
        logic.accept_proposal(app_context, logic.open_run(app_context, processed_run, "ana"), "ana", 0)


def test_proposals_are_reviewed_into_a_normal_confirmed_annotation(app_context, processed_run):
    write_proposals(app_context, processed_run, [(5.0, 8.0, 0.95), (12.0, 14.0, 0.6), (30.0, 33.0, 0.85)])
    state = logic.open_run(app_context, processed_run, "ana")
    view = logic.render(app_context, state)
    assert view.proposal_table["decision"].tolist() == ["pending"] * 3
    assert [c[1] for c in view.proposal_choices] == [0, 1, 2] and "iteration 1" in view.proposal_text
    assert view.chart.color_map[PROPOSALS_SERIES] == PROPOSAL_COLOR
    bands = view.chart.frame[view.chart.frame["series"] == PROPOSALS_SERIES]
    assert bands["value"].isna().sum() == 6  # 3 bands, each between two empty rows

    state = logic.reject_proposal(app_context, state, "ana", 1)
    state = logic.adjust_proposal(app_context, state, "ana", 2, 30.5, 32.0)
    with pytest.raises(ReviewError, match="outside the run"):
        logic.adjust_proposal(app_context, state, "ana", 0, 30.5, 99.0)
    with pytest.raises(ReviewError, match="no undecided proposal"):
        logic.accept_proposals_above(app_context, state, "ana", 0.99)
    state = logic.accept_proposals_above(app_context, state, "ana", 0.9)
    view = logic.render(app_context, state)
    assert view.proposal_table["decision"].tolist() == ["accepted", "rejected", "adjusted"]
    assert PROPOSALS_SERIES not in set(view.chart.frame["series"])  # decided: now plain intervals
    assert interval_series("anomaly") in set(view.chart.frame["series"])
    assert app_context.store.latest_version(processed_run) is None  # still a draft

    confirmed, message, counted = logic.confirm_draft(app_context, state, "ana", "valid", [], "")
    assert counted
    version = app_context.store.latest_version(processed_run)
    assert [(i.start_s, i.end_s) for i in version.annotation.intervals] == [(5.0, 8.0), (30.5, 32.0)]
    assert [p.decision for p in version.annotation.proposals] == ["rejected", "adjusted", "accepted"]
    assert "model proposal(s) reviewed" in message
    actions = [e.summary for e in app_context.store.audit_trail(processed_run) if e.action == "edit_intervals"]
    assert any("rejected the proposed interval 12–14 s" in a for a in actions)
