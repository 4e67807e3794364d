"""Automation: start the next iteration after N new confirmed runs, stop at the target F1."""

from __future__ import annotations

from datetime import datetime, timezone

from labflow.review.annotations import Annotation, AnomalyInterval
from labflow.store.catalog import Catalog
from labflow.loop.automation import decide
from labflow.loop.iterations import IterationStore
from labflow.loop.runner import advance
from labflow.review.store import ReviewStore


def test_automation_starts_after_new_labels_and_stops_at_the_target(tmp_path):
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    review, iterations = ReviewStore(catalog), IterationStore(catalog)
    assert decide(iterations, review).action == "wait"
    number = iterations.create("ana", config={"start_after_labels": 2, "target_f1": 0.9}).number
    assert "still Created" in decide(iterations, review).reason
    advance(iterations, number, "Reviewing", "ana")
    for key in ("a", "b"):
        catalog.register_file(run_key=key, sha256=key * 8, size_bytes=1, original_name=key, source="t",
                              object_path="x", sidecar_name=None, sidecar_text=None,
                              detected_at=datetime.now(timezone.utc))
    review.confirm("a", "ana", Annotation(intervals=(AnomalyInterval(start_s=1, end_s=2),)), base_version=0)
    waiting = decide(iterations, review)
    assert waiting.action == "wait" and waiting.new_labels == 1 and "1 of 2" in waiting.reason
    review.confirm("b", "ana", Annotation(), base_version=0)
    assert decide(iterations, review).action == "start"
    iterations.record_metrics(number, {"event_f1": 0.93})
    stop = decide(iterations, review)
    assert stop.action == "stop" and "0.930" in stop.reason
    catalog.dispose()
