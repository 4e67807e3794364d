"""What ``/metrics`` reads from the Dagster instance: runs in flight and finished, sensor ticks, the
inbox sensor's cursor and new ``peaks`` materializations. Every read is bounded (a limit, a window)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone

import dagster as dg
from dagster._core.scheduler.instigation import InstigatorType, TickStatus

from labflow.ops.metrics.tail import TimestampTail
from labflow.ops.metrics.tally import Counts

IN_FLIGHT = (dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
             dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING)
FINISHED = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)
PEAKS = dg.AssetKey("peaks")
MAX_IN_FLIGHT = 2000
BATCH = 1000


@dataclass(frozen=True)
class SensorTick:
    """A sensor's latest tick: when (Unix seconds) and whether it failed."""

    sensor: str
    at: float
    failed: bool


class DagsterReadings:
    """Reads of one Dagster instance for the metrics; the tails remember what they already counted.

    Runs finished, failed ticks and ``peaks`` materializations are counted from when this was made on
    (as Prometheus counters start at a process start).
    """

    def __init__(self, instance: dg.DagsterInstance):
        self.instance = instance
        self.started = time.time()
        self.finished = Counts()  # (job, status) -> runs finished
        self.tick_failures = Counts()  # (sensor,) -> failed ticks
        self._finished_tail = TimestampTail(start=self.started)
        self._peaks_tail = TimestampTail(start=self.started)
        self._failure_tails: dict[str, TimestampTail] = {}
        self.cursors: dict[str, str | None] = {}  # sensor -> cursor, read with the ticks

    def in_flight(self) -> dict[tuple[str, str], int]:
        """Runs not finished yet by ``(job, status)`` (at most :data:`MAX_IN_FLIGHT` of them read)."""
        out: dict[tuple[str, str], int] = {}
        for record in self.instance.get_run_records(dg.RunsFilter(statuses=list(IN_FLIGHT)), limit=MAX_IN_FLIGHT):
            key = (record.dagster_run.job_name, record.dagster_run.status.value.lower())
            out[key] = out.get(key, 0) + 1
        return out

    def queue_length(self) -> int:
        """Runs waiting in the run queue."""
        return self.instance.get_runs_count(dg.RunsFilter(statuses=[dg.DagsterRunStatus.QUEUED]))

    def count_finished(self) -> int:
        """Count the runs that finished since the last call (success, failure, canceled) by job."""
        tail = self._finished_tail
        after = None if tail.since is None else datetime.fromtimestamp(tail.since, timezone.utc)
        records = self.instance.get_run_records(dg.RunsFilter(statuses=list(FINISHED), updated_after=after),
                                                limit=BATCH, order_by="update_timestamp", ascending=True)
        keyed = [(r.dagster_run.run_id, r.update_timestamp.timestamp()) for r in records]
        fresh = tail.take(keyed, full=len(records) == BATCH)
        for index in fresh:
            run = records[index].dagster_run
            self.finished.add((run.job_name, run.status.value.lower()))
        return len(fresh)

    def sensor_ticks(self) -> list[SensorTick]:
        """Every sensor's latest tick; failed ticks since the last call are added to :attr:`tick_failures` and
        the sensors' cursors kept in :attr:`cursors`."""
        ticks = []
        cursors = {}
        for state in self.instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
            origin, selector, name = state.instigator_origin_id, state.selector_id, state.instigator_name
            cursors[name] = getattr(state.instigator_data, "cursor", None)
            latest = self.instance.get_ticks(origin, selector, limit=1)
            if latest:
                ticks.append(SensorTick(name, latest[0].timestamp, latest[0].status == TickStatus.FAILURE))
            tail = self._failure_tails.setdefault(name, TimestampTail(start=self.started))
            failed = self.instance.get_ticks(origin, selector, after=tail.since, limit=BATCH,
                                             statuses=[TickStatus.FAILURE])
            failed = sorted(failed, key=lambda t: t.timestamp)
            fresh = tail.take([(str(t.tick_id), t.timestamp) for t in failed], full=len(failed) == BATCH)
            self.tick_failures.add((name,), len(fresh))
        self.cursors = cursors
        return ticks

    def sensor_cursor(self, sensor: str) -> str | None:
        """A sensor's cursor as of the last :meth:`sensor_ticks` (``None``: it never ticked on this instance)."""
        return self.cursors.get(sensor)

    def new_peaks(self) -> list[tuple[str, datetime]]:
        """``(run key, materialized at)`` of the ``peaks`` materializations since the last call."""
        tail = self._peaks_tail
        records = list(self.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=PEAKS, after_timestamp=tail.since), limit=BATCH, ascending=True).records)
        fresh = tail.take([(str(r.storage_id) + ":" + r.run_id, r.timestamp) for r in records],
                          full=len(records) == BATCH)
        return [(records[i].partition_key, datetime.fromtimestamp(records[i].timestamp, timezone.utc))
                for i in fresh if records[i].partition_key]
