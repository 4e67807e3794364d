"""The inbox sensor: complete new files in ``LABFLOW_HOME/inbox`` become partitions and batched runs."""

from __future__ import annotations

from datetime import datetime, timezone

import dagster as dg

from lab_assets.etl import run_etl
from lab_assets.partitions import RUNS_PARTITION, runs_partitions
from labflow.ingest.inbox import InboxCursor, scan_inbox
from labflow.ingest.register import ingest_file
from labflow.store.objects import open_object_store
from labflow.settings import Settings
from resources import CatalogResource, LabStorageResource
from sensors.batching import batch_run_requests

MAX_FILES_PER_TICK = 1000


def build_inbox_sensor(settings: Settings) -> dg.SensorDefinition:
    """The inbox sensor, ticking every ``LABFLOW_SENSOR_INTERVAL`` seconds, on by default."""

    @dg.sensor(
        name="inbox_sensor",
        target=run_etl,
        minimum_interval_seconds=settings.sensor_interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Ingests complete files dropped into the inbox (size and mtime unchanged across two "
        "ticks; temporary names ignored); the same bytes twice are one run.",
    )
    def inbox_sensor(context: dg.SensorEvaluationContext, lab: LabStorageResource, catalog: CatalogResource):
        lab_settings = lab.settings()
        lab_settings.ensure_dirs()
        cursor = InboxCursor.from_json(context.cursor)
        ready = cursor.advance(scan_inbox(lab_settings.inbox), limit=MAX_FILES_PER_TICK)
        store = catalog.get_catalog()
        new_keys: list[str] = []
        duplicates = 0

        def is_known_run(run_key: str) -> bool:
            return run_key in new_keys or context.instance.has_dynamic_partition(RUNS_PARTITION, run_key)

        now = datetime.now(timezone.utc)
        for rel in ready:
            stat = cursor.pending[rel]
            outcome = ingest_file(lab_settings.inbox, rel, objects=open_object_store(lab_settings), catalog=store,
                                  is_known_run=is_known_run, now=now)
            if outcome.kind == "unreadable":
                context.log.warning(f"{rel}: cannot read yet ({outcome.detail}); will retry")
                continue
            cursor.mark_done(rel, stat)
            if outcome.kind == "duplicate":
                duplicates += 1
                context.log.info(f"{rel}: same bytes as run {outcome.run_key}; recorded as a duplicate")
            elif outcome.run_key not in new_keys:
                new_keys.append(outcome.run_key)
        if new_keys or duplicates:
            context.log.info(f"{len(new_keys)} new run(s), {duplicates} duplicate(s), {len(cursor.pending)} pending")
        return dg.SensorResult(
            run_requests=batch_run_requests(new_keys, batch_size=settings.batch_size,
                                            etl_mode=lab.etl_mode, source="inbox"),
            dynamic_partitions_requests=[runs_partitions.build_add_request(new_keys)] if new_keys else [],
            cursor=cursor.to_json(),
        )

    return inbox_sensor
