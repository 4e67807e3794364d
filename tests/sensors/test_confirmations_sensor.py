"""The confirmations sensor: the review store's outbox → annotations runs, exactly once."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import dagster as dg
import pytest

from labflow.review.annotations import Annotation
from labflow.review.store import AnnotationVersion, ReviewStore
from sensors.confirmations import OutboxCursor, annotation_requests, build_confirmations_sensor
from tests.lab_fixtures import register_run, signal_csv

NOW = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)


def version(id_: int, run_key: str = "r", number: int = 1, age_s: float = 0) -> AnnotationVersion:
    return AnnotationVersion(id_, run_key, number, number - 1, "ana", NOW - timedelta(seconds=age_s),
                             Annotation(), [])


def test_cursor_waits_for_a_gap_then_passes_it_when_settled():
    cursor = OutboxCursor()
    cursor.advance([version(1), version(3)], NOW)
    assert (cursor.floor, cursor.seen) == (1, {3})  # id 2 may still commit (Postgres, concurrent confirm)
    late = version(2)
    assert cursor.unseen([late, version(3)]) == [late]
    cursor.advance([late, version(3)], NOW)
    assert (cursor.floor, cursor.seen) == (3, set())
    cursor.advance([version(5, age_s=600)], NOW)  # id 4 never came: a rolled-back transaction
    assert (cursor.floor, cursor.seen) == (5, set())
    assert OutboxCursor.from_json(cursor.to_json()) == cursor


def test_one_request_per_run_for_its_newest_version():
    requests = annotation_requests([version(1, "a", 1), version(2, "b", 1), version(3, "a", 2)])
    assert [(r.partition_key, r.run_key) for r in requests] == [("a", "annotation-a-v2"), ("b", "annotation-b-v1")]
    assert all(r.asset_selection == [dg.AssetKey("annotations")] for r in requests)


@pytest.fixture
def review(catalog) -> ReviewStore:
    return ReviewStore(catalog)


def tick(sensor, instance, resources, cursor):
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
        return sensor(context)


def test_each_confirmation_is_requested_once_across_ticks_and_restarts(lab_settings, lab_resources, catalog,
                                                                       instance, review):
    keys = [register_run(lab_settings, catalog, instance, f"r{i}.csv", signal_csv(i)) for i in range(2)]
    sensor = build_confirmations_sensor(lab_settings)
    assert tick(sensor, instance, lab_resources, None).run_requests == []
    review.save_draft(keys[0], "ana", Annotation(), base_version=0)  # drafts are not confirmations
    first = tick(sensor, instance, lab_resources, None)
    assert first.run_requests == []
    review.confirm(keys[0], "ana", Annotation(), base_version=0)
    review.confirm(keys[1], "ben", Annotation(verdict="invalid"), base_version=0)
    second = tick(sensor, instance, lab_resources, first.cursor)
    assert sorted(r.partition_key for r in second.run_requests) == sorted(keys)
    restarted = build_confirmations_sensor(lab_settings)  # a new daemon process: only the cursor survives
    assert tick(restarted, instance, lab_resources, second.cursor).run_requests == []
    review.confirm(keys[0], "ben", Annotation(verdict="failed_experiment"), base_version=1)
    third = tick(restarted, instance, lab_resources, second.cursor)
    assert [(r.partition_key, r.tags["labflow/annotation_version"]) for r in third.run_requests] == [(keys[0], "2")]
