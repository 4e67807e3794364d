"""Run requests for newly added runs: one run per batch of partitions, never one run per file."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import dagster as dg

from lab_assets.partitions import runs_partitions
from labflow.ops.run_kinds import FILES
from labflow.processing.pipeline import STEPS
from labflow.settings import Settings

LAZY_STEPS = ("raw_file", "raw_series")


def steps_for_mode(etl_mode: str) -> tuple[str, ...]:
    """Eager: the whole chain; lazy: stop after ``raw_series`` (the rest when someone asks)."""
    return STEPS if etl_mode == "eager" else LAZY_STEPS


def batch_run_requests(run_keys: Sequence[str], *, batch_size: int, etl_mode: str, source: str,
                       run_key_prefix: str = "etl", tags: Mapping[str, str] | None = None) -> list[dg.RunRequest]:
    """One RunRequest per consecutive batch of new partition keys.

    A batch of one targets its partition; a larger batch targets the partition range from its first
    to its last key (keys added in one request are consecutive), which the single-run backfill
    policy of ``run_etl`` executes as one run. Run keys are ``run_key_prefix`` and the partition keys,
    so a retried tick cannot launch the same batch twice; ``tags`` are added to every run.
    """
    selection = [dg.AssetKey(step) for step in steps_for_mode(etl_mode)]
    requests = []
    for start in range(0, len(run_keys), batch_size):
        batch = list(run_keys[start : start + batch_size])
        digest = hashlib.sha256("\n".join(batch).encode()).hexdigest()[:16]
        run_tags = {**FILES, **(tags or {}), "labflow/source": source, "labflow/files": str(len(batch))}
        if len(batch) == 1:
            requests.append(dg.RunRequest(run_key=f"{run_key_prefix}-{batch[0]}", partition_key=batch[0],
                                          asset_selection=selection, tags=run_tags))
            continue
        run_tags.update({"dagster/asset_partition_range_start": batch[0],
                         "dagster/asset_partition_range_end": batch[-1]})
        requests.append(dg.RunRequest(run_key=f"{run_key_prefix}-batch-{digest}", asset_selection=selection,
                                      tags=run_tags))
    return requests


def new_runs_result(new_keys: Sequence[str], settings: Settings, *, source: str, cursor: str) -> dg.SensorResult:
    """How an ingest tick ends (folder inbox, S3): the new run partitions added, their runs requested in
    batches of ``LABFLOW_BATCH_SIZE`` (only the lazy steps in lazy mode), and the new cursor."""
    return dg.SensorResult(
        run_requests=batch_run_requests(new_keys, batch_size=settings.batch_size, etl_mode=settings.etl_mode,
                                        source=source),
        dynamic_partitions_requests=[runs_partitions.build_add_request(list(new_keys))] if new_keys else [],
        cursor=cursor,
    )
