"""The review store on SQLite and Postgres: drafts, versions, conflicts, concurrency, audit trail."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

from labflow.review.annotations import Annotation, PeakMark, move_peak
from labflow.store.catalog import Catalog, RunNotFound
from labflow.review.store import ConfirmConflict, ReviewStore


@pytest.fixture
def catalog(database_url: str) -> Iterator[Catalog]:
    store = Catalog(database_url)
    for key in ("r1", "r2"):
        store.register_file(run_key=key, sha256=key * 32, size_bytes=10, original_name=f"{key}.csv",
                            source=f"inbox:{key}.csv", object_path=f"/o/{key}", sidecar_name=None,
                            sidecar_text=None, detected_at=datetime(2024, 1, 1, tzinfo=timezone.utc))
    yield store
    store.dispose()


@pytest.fixture
def review(catalog: Catalog) -> ReviewStore:
    return ReviewStore(catalog)


DETECTED = Annotation(channel="signal", peaks=(PeakMark(time_s=10.0), PeakMark(time_s=25.0)))


def test_a_draft_is_not_a_version(review, catalog):
    review.save_draft("r1", "ana", DETECTED, base_version=0, action="mark")
    assert review.latest_version("r1") is None
    assert review.get_draft("r1", "ana").annotation == DETECTED
    assert review.get_draft("r1", "ben") is None
    run = catalog.get_run("r1")
    assert (run.review_status, run.annotation_version) == ("needs_review", 0)


def test_confirming_makes_an_immutable_version_and_clears_the_draft(review, catalog):
    review.save_draft("r1", "ana", DETECTED, base_version=0)
    first = review.confirm("r1", "ana", DETECTED, base_version=0)
    assert (first.version, first.author, first.annotation) == (1, "ana", DETECTED)
    assert review.get_draft("r1", "ana") is None
    moved = move_peak(DETECTED, 25.0, 26.0, tolerance_s=0.5)
    second = review.confirm("r1", "ana", moved, base_version=1)
    assert second.version == 2 and second.changes == ["peak moved from 25 s to 26 s"]
    assert [v.annotation for v in review.history("r1")] == [DETECTED, moved]
    assert catalog.get_run("r1").annotation_version == 2
    assert second.id > first.id


def test_rejecting_verdicts_mark_the_run_rejected(review, catalog):
    review.confirm("r1", "ana", Annotation(verdict="failed_experiment", reasons=("sample_problem",)), base_version=0)
    review.confirm("r2", "ana", DETECTED, base_version=0)
    assert [r.run_key for r in catalog.find_runs(review_status="rejected")] == ["r1"]
    assert [r.run_key for r in catalog.find_runs(review_status="confirmed")] == ["r2"]
    assert catalog.count_runs(review_status="new") == 0
    assert [e.action for e in review.audit_trail("r1")] == ["reject"]


def test_a_stale_confirmation_is_refused_with_what_changed_and_kept_as_a_draft(review):
    review.confirm("r1", "ana", DETECTED, base_version=0)
    ana = move_peak(DETECTED, 10.0, 11.0, tolerance_s=0.5)
    review.confirm("r1", "ana", ana, base_version=1)
    ben = Annotation(verdict="invalid", reasons=("noise",), note="too noisy")
    with pytest.raises(ConfirmConflict) as conflict:
        review.confirm("r1", "ben", ben, base_version=1)
    message = str(conflict.value)
    assert "version 2 by ana" in message and "peak moved from 10 s to 11 s" in message
    assert conflict.value.head.version == 2
    draft = review.get_draft("r1", "ben")
    assert draft is not None and draft.annotation == ben and draft.base_version == 1
    assert [v.version for v in review.history("r1")] == [1, 2]
    assert review.audit_trail("r1")[-1].action == "conflict"


def test_two_sessions_confirming_from_the_same_base_exactly_one_wins(review, catalog):
    review.confirm("r1", "ana", DETECTED, base_version=0)
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}
    edits = {"ana": move_peak(DETECTED, 25.0, 24.0, tolerance_s=1), "ben": Annotation(verdict="invalid")}

    def confirm(author: str) -> None:
        other = ReviewStore(Catalog(catalog.engine.url.render_as_string(hide_password=False)))
        barrier.wait()
        try:
            outcomes[author] = other.confirm("r1", author, edits[author], base_version=1)
        except ConfirmConflict as conflict:
            outcomes[author] = conflict
        finally:
            other.catalog.dispose()

    threads = [threading.Thread(target=confirm, args=(name,)) for name in edits]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    conflicts = [a for a, o in outcomes.items() if isinstance(o, ConfirmConflict)]
    winners = [a for a, o in outcomes.items() if not isinstance(o, ConfirmConflict)]
    assert len(conflicts) == 1 and len(winners) == 1
    history = review.history("r1")
    assert [v.version for v in history] == [1, 2] and history[1].author == winners[0]
    loser = conflicts[0]
    assert review.get_draft("r1", loser).annotation == edits[loser]  # the losing edit is not lost


def test_outbox_lists_versions_after_an_id(review):
    first = review.confirm("r1", "ana", DETECTED, base_version=0)
    second = review.confirm("r2", "ana", DETECTED, base_version=0)
    assert [v.id for v in review.versions_after(0)] == [first.id, second.id]
    assert [v.id for v in review.versions_after(first.id)] == [second.id]
    third = review.confirm("r1", "ben", Annotation(verdict="invalid"), base_version=1)
    latest = {v.run_key: v.version for v in review.latest_versions()}
    assert latest == {"r1": 2, "r2": 1} and third.version == 2


def test_bad_input_is_refused_clearly(review):
    with pytest.raises(RunNotFound):
        review.confirm("nope", "ana", DETECTED, base_version=0)
    with pytest.raises(ValueError, match="author"):
        review.save_draft("r1", "  ", DETECTED, base_version=0)
    with pytest.raises(ValueError, match="unknown audit action"):
        review.record("r1", "ana", "delete_everything")
    assert review.latest_version("r1") is None


def test_audit_trail_records_who_did_what_in_order(review):
    review.record("r1", "ana", "open", "opened the run")
    review.save_draft("r1", "ana", DETECTED, base_version=0, action="edit_peaks", summary="moved a peak")
    review.discard_draft("r1", "ana")
    review.confirm("r1", "ben", DETECTED, base_version=0)
    trail = review.audit_trail("r1")
    assert [(e.actor, e.action) for e in trail] == [("ana", "open"), ("ana", "edit_peaks"),
                                                   ("ana", "discard_draft"), ("ben", "confirm")]
    assert all(e.at.tzinfo is not None for e in trail)
