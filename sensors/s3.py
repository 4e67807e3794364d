"""The S3 sensor: new objects under the configured ``s3://bucket/prefix`` sources become partitions and runs.

Same semantics as the inbox sensor: the same bytes (from S3 or from the folder) are one run, runs
are batched, and the state lives only in the cursor (see :mod:`labflow.ingest.s3_inbox`).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

import dagster as dg

from lab_assets.etl import run_etl
from lab_assets.partitions import RUNS_PARTITION, runs_partitions
from labflow.ingest.s3_inbox import S3Cursor, S3Inbox
from labflow.store.objects import open_object_store
from labflow.settings import Settings
from resources import CatalogResource, LabStorageResource
from resources.s3 import S3InboxResource
from sensors.batching import batch_run_requests

MAX_OBJECTS_PER_TICK = 500
TICK_BUDGET_S = 40.0  # the daemon gives a tick about 60 s


def build_s3_sensor(settings: Settings, *, max_objects_per_tick: int = MAX_OBJECTS_PER_TICK,
                    tick_budget_s: float = TICK_BUDGET_S) -> dg.SensorDefinition:
    """The S3 sensor, ticking every ``LABFLOW_SENSOR_INTERVAL`` seconds, on by default."""

    @dg.sensor(
        name="s3_sensor",
        target=run_etl,
        minimum_interval_seconds=settings.sensor_interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Ingests new objects under the LABFLOW_S3_SOURCES bucket/prefixes (with their "
        "<key>.meta.json sidecars); the same bytes twice, from S3 or the inbox, are one run.",
    )
    def s3_sensor(context: dg.SensorEvaluationContext, s3: S3InboxResource, lab: LabStorageResource,
                  catalog: CatalogResource):
        deadline = time.monotonic() + tick_budget_s
        lab_settings = lab.settings()
        lab_settings.ensure_dirs()
        cursor = S3Cursor.from_json(context.cursor)

        def is_known_run(run_key: str) -> bool:
            return context.instance.has_dynamic_partition(RUNS_PARTITION, run_key)

        inbox = S3Inbox(s3.get_client(), objects=open_object_store(lab_settings), catalog=catalog.get_catalog(),
                        is_known_run=is_known_run)
        result = inbox.poll(cursor, s3.inbox_sources(), max_objects=max_objects_per_tick, deadline=deadline,
                            now=datetime.now(timezone.utc))
        for outcome in result.outcomes:
            if outcome.kind == "unreadable":
                context.log.warning(f"{outcome.detail}; will try again on the next pass")
            elif outcome.kind == "duplicate":
                context.log.info(f"{outcome.relative_path}: same bytes as run {outcome.run_key}; "
                                 "recorded as a duplicate")
        if result.stopped:
            context.log.warning(result.stopped)
        new_keys = result.new_run_keys
        if result.outcomes:
            context.log.info(f"{len(new_keys)} new run(s) from {len(result.outcomes)} object(s)")
        return dg.SensorResult(
            run_requests=batch_run_requests(new_keys, batch_size=settings.batch_size, etl_mode=lab.etl_mode,
                                            source="s3"),
            dynamic_partitions_requests=[runs_partitions.build_add_request(new_keys)] if new_keys else [],
            cursor=cursor.to_json(),
        )

    return s3_sensor
