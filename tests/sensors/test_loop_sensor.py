"""The loop sensor starts the next iteration after enough new confirmed runs, and stops at the target F1."""

from __future__ import annotations

from datetime import datetime, timezone

import dagster as dg

from labflow.review.annotations import Annotation
from labflow.loop.iterations import IterationStore
from labflow.loop.runner import advance
from labflow.review.store import ReviewStore
from sensors.loop import build_loop_sensor


def tick(settings, instance, resources):
    sensor = build_loop_sensor(settings)
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        return sensor(context)


def register(catalog, key: str) -> None:
    catalog.register_file(run_key=key, sha256=key * 8, size_bytes=1, original_name=key, source="t", object_path="x",
                          sidecar_name=None, sidecar_text=None, detected_at=datetime.now(timezone.utc))


def test_the_next_iteration_starts_after_enough_new_labels(lab_settings, catalog, instance, lab_resources):
    iterations, review = IterationStore(catalog), ReviewStore(catalog)
    assert "no iteration yet" in tick(lab_settings, instance, lab_resources).skip_message
    first = iterations.create("ana", config={"start_after_labels": 2, "target_f1": 0.95})
    advance(iterations, first.number, "Reviewing", "ana")
    for key in ("r1", "r2"):
        register(catalog, key)
    review.confirm("r1", "ana", Annotation(), base_version=0)
    assert "1 of 2" in tick(lab_settings, instance, lab_resources).skip_message
    review.confirm("r2", "ana", Annotation(), base_version=0)

    result = tick(lab_settings, instance, lab_resources)
    assert [r.partition_key for r in result.run_requests] == ["iteration-2"]
    assert {k.to_user_string() for k in result.run_requests[0].asset_selection} == {
        "training_set", "anomaly_model", "inference", "iteration_metrics"}
    assert list(result.dynamic_partitions_requests[0].partition_keys) == ["iteration-2"]
    assert iterations.get(1).state == "Completed" and iterations.get(2).state == "Annotating"
    assert iterations.get(2).history[-1].actor == "loop sensor"
    assert "still Annotating" in tick(lab_settings, instance, lab_resources).skip_message

    iterations.record_metrics(2, {"event_f1": 0.97})
    assert "reached event F1 0.970" in tick(lab_settings, instance, lab_resources).skip_message
