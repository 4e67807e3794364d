"""The whole flow in ``/metrics``: files seen, ingested, duplicate and quarantined; inbox, S3 and forwarder
backlogs; arrival-to-peaks time; Dagster runs, queue and sensors; review confirmations.

Why on the API's ``/metrics`` and not a separate exporter: the API is the one long-running labflow
process every deployment has, it already holds the catalog and the Dagster instance, and Prometheus
then scrapes one target per lab. Values are read at most every ``LABFLOW_METRICS_REFRESH_S`` seconds
(a scrape in between serves the last reading) and each reading is bounded: new catalog rows past an
id watermark, new Dagster records past a timestamp, the inbox listing, at most 10 listing pages per S3
source, small journals.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import dagster as dg
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from api.deps import Lab
from api.metrics_dagster import DagsterReadings, SensorTick
from labflow.ingest.inbox import InboxCursor, scan_inbox
from labflow.ingest.s3_inbox import S3Cursor, SourceState
from labflow.ops.metrics.backlog import (Backlog, ForwarderState, S3Backlog, forwarder_state, inbox_backlog,
                                         s3_backlog)
from labflow.ops.metrics.etl import EtlLatency, QuarantineCensus
from labflow.ops.metrics.ingest import IngestTally
from labflow.ops.metrics.review import ConfirmationTally
from labflow.s3 import S3Source, s3_client

log = logging.getLogger("labflow.api.metrics")

S3_RETRY_S = 60.0  # after a failed S3 listing, scrapes do not wait on the endpoint again for this long
PARTS = ("ingest", "etl", "quarantine", "sensors", "inbox", "s3", "forwarders", "runs", "review")


class PipelineCollector:
    """A Prometheus collector of the pipeline's metrics, refreshed at most every ``refresh_s`` seconds."""

    def __init__(self, lab: Lab, instance: dg.DagsterInstance, *, refresh_s: float):
        settings = lab.settings
        self.settings = settings
        self.refresh_s = refresh_s
        self.dagster = DagsterReadings(instance)
        self.ingest = IngestTally(lab.catalog)
        self.etl = EtlLatency(lab.catalog)
        self.census = QuarantineCensus(settings.quarantine, lab.catalog)
        self.confirmations = ConfirmationTally(lab.catalog)
        self.quarantined: dict[tuple[str, str], int] = {}
        self.inbox = Backlog(0, None)
        self.s3: list[S3Backlog] = []
        self._s3_client: Any = None
        self._s3_retry_at = float("-inf")
        self.forwarders: list[ForwarderState] = []
        self.in_flight: dict[tuple[str, str], int] = {}
        self.queue = 0
        self.ticks: list[SensorTick] = []
        self.errors = dict.fromkeys(PARTS, 0)
        self._refreshed_at = float("-inf")
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Read everything now (each part on its own: one failing part does not hide the others)."""
        steps: dict[str, Callable[[], None]] = {
            "ingest": self.ingest.refresh,
            "etl": lambda: self.etl.observe(self.dagster.new_peaks()),
            "quarantine": self._read_quarantine,
            "sensors": self._read_sensors,  # before inbox and s3: it reads the sensors' cursors too
            "inbox": self._read_inbox,
            "s3": self._read_s3,
            "forwarders": self._read_forwarders,
            "runs": self._read_runs,
            "review": self.confirmations.refresh,
        }
        for part, step in steps.items():
            try:
                step()
            except Exception:  # noqa: BLE001 — counted in labflow_metrics_refresh_errors_total and logged
                self.errors[part] += 1
                log.warning("metrics: cannot read %s", part, exc_info=True)
        self._refreshed_at = time.monotonic()

    def _read_quarantine(self) -> None:
        self.quarantined = self.census.counts()

    def _read_inbox(self) -> None:
        cursor = InboxCursor.from_json(self.dagster.sensor_cursor("inbox_sensor"))
        self.inbox = inbox_backlog(scan_inbox(self.settings.inbox), cursor)

    def _read_s3(self) -> None:
        """The S3 backlog; an endpoint that failed is not asked again for :data:`S3_RETRY_S` (the last values stay),
        so an S3 outage does not make every scrape wait for its timeout."""
        if not self.settings.s3_sources or time.monotonic() < self._s3_retry_at:
            return
        if self._s3_client is None:
            # credentials from the standard AWS environment variables, as for the S3 sensor
            self._s3_client = s3_client(endpoint_url=self.settings.s3_endpoint_url, max_attempts=1, timeout_s=3.0)
        cursor = S3Cursor.from_json(self.dagster.sensor_cursor("s3_sensor"))
        sources = [S3Source.parse(url) for url in self.settings.s3_sources]
        try:
            self.s3 = [s3_backlog(self._s3_client, source, cursor.sources.get(source.url, SourceState()))
                       for source in sources]
        except Exception:
            self._s3_retry_at = time.monotonic() + S3_RETRY_S
            raise

    def _read_forwarders(self) -> None:
        self.forwarders = [forwarder_state(folder) for folder in self.settings.forward_dirs]

    def _read_runs(self) -> None:
        self.dagster.count_finished()
        # a (job, status) seen before and now empty is reported as 0, not dropped
        self.in_flight = dict.fromkeys(self.in_flight, 0) | self.dagster.in_flight()
        self.queue = self.dagster.queue_length()

    def _read_sensors(self) -> None:
        self.ticks = self.dagster.sensor_ticks()

    def collect(self) -> Iterator[Any]:
        with self._lock:
            if time.monotonic() - self._refreshed_at >= self.refresh_s:
                self.refresh()
            families = list(self._families(time.time()))
        yield from families

    def describe(self) -> Iterator[Any]:
        """The metric names, without reading anything (the registry asks at registration)."""
        yield from self._families(time.time())

    def _families(self, now: float) -> Iterator[Any]:
        yield from self._ingest_families()
        yield from self._backlog_families(now)
        yield from self._dagster_families(now)
        confirmed = CounterMetricFamily("labflow_review_confirmations", "Annotation versions confirmed")
        confirmed.add_metric([], self.confirmations.confirmed)
        yield confirmed
        errors = CounterMetricFamily("labflow_metrics_refresh_errors",
                                     "Readings of a part of these metrics that failed (see the API log)", labels=["part"])
        for part, count in self.errors.items():
            errors.add_metric([part], count)
        yield errors

    def _ingest_families(self) -> Iterator[Any]:
        for name, kind, help_text in (("labflow_files_seen", None, "Files that arrived (new bytes or duplicates)"),
                                      ("labflow_files_ingested", "new", "Files registered as new runs"),
                                      ("labflow_files_duplicate", "duplicate", "Files whose bytes were already a run")):
            family = CounterMetricFamily(name, help_text, labels=["source"])
            for source, count in sorted(self.ingest.by_source(kind).items()):
                family.add_metric([source], count)
            yield family
        quarantined = GaugeMetricFamily("labflow_files_quarantined", "Files now in the quarantine folder",
                                        labels=["source", "instrument"])
        for (source, instrument), count in sorted(self.quarantined.items()):
            quarantined.add_metric([source, instrument], count)
        yield quarantined
        latency = HistogramMetricFamily("labflow_etl_arrival_to_peaks_seconds",
                                        "Time from a file's arrival to its peaks being materialized",
                                        labels=["source", "instrument"])
        bounds = [str(b) for b in self.etl.histogram.bounds] + ["+Inf"]
        for labels, state in sorted(self.etl.histogram.snapshot().items()):
            latency.add_metric(list(labels), list(zip(bounds, [*state.buckets, state.count])), state.total)
        yield latency

    def _backlog_families(self, now: float) -> Iterator[Any]:
        waiting = GaugeMetricFamily("labflow_inbox_files_waiting", "Files in the inbox the inbox sensor has not handled")
        waiting.add_metric([], self.inbox.files)
        yield waiting
        oldest = GaugeMetricFamily("labflow_inbox_oldest_waiting_seconds",
                                   "Age of the oldest file waiting in the inbox (0 when none waits)")
        oldest.add_metric([], _age(now, self.inbox.oldest_at))
        yield oldest
        s3_waiting = GaugeMetricFamily("labflow_s3_objects_waiting",
                                       "Objects under an S3 source the S3 sensor has not handled", labels=["source"])
        s3_oldest = GaugeMetricFamily("labflow_s3_oldest_waiting_seconds",
                                      "Age of the oldest object waiting under an S3 source (0 when none waits)",
                                      labels=["source"])
        s3_complete = GaugeMetricFamily("labflow_s3_listing_complete",
                                        "1 when the whole S3 source was listed, 0 when the count is a lower bound",
                                        labels=["source"])
        for backlog in self.s3:
            s3_waiting.add_metric([backlog.source], backlog.files)
            s3_oldest.add_metric([backlog.source], _age(now, backlog.oldest_at))
            s3_complete.add_metric([backlog.source], 1.0 if backlog.complete else 0.0)
        yield s3_waiting
        yield s3_oldest
        yield s3_complete
        states = GaugeMetricFamily("labflow_forward_files", "Files in a store-and-forward journal by state",
                                   labels=["folder", "state"])
        unsent = GaugeMetricFamily("labflow_forward_oldest_unsent_seconds",
                                   "Time since the longest-waiting unsent file of a forwarder last changed (0: all sent)",
                                   labels=["folder"])
        for forwarder in self.forwarders:
            for state, count in sorted(forwarder.files.items()):
                states.add_metric([forwarder.folder, state], count)
            unsent.add_metric([forwarder.folder], _age(now, forwarder.oldest_unsent_at))
        yield states
        yield unsent

    def _dagster_families(self, now: float) -> Iterator[Any]:
        runs = GaugeMetricFamily("labflow_dagster_runs", "Dagster runs not finished yet by job and status",
                                 labels=["job", "status"])
        for (job, status), count in sorted(self.in_flight.items()):
            runs.add_metric([job, status], count)
        yield runs
        queue = GaugeMetricFamily("labflow_dagster_run_queue_length", "Dagster runs waiting in the run queue")
        queue.add_metric([], self.queue)
        yield queue
        finished = CounterMetricFamily("labflow_dagster_runs_finished", "Dagster runs finished by job and status",
                                       labels=["job", "status"])
        for (job, status), count in sorted(self.dagster.finished.values.items()):
            finished.add_metric([job, status], count)
        yield finished
        age = GaugeMetricFamily("labflow_sensor_last_tick_age_seconds", "Time since a sensor's latest tick",
                                labels=["sensor"])
        failing = GaugeMetricFamily("labflow_sensor_failing", "1 when a sensor's latest tick failed", labels=["sensor"])
        for tick in self.ticks:
            age.add_metric([tick.sensor], _age(now, tick.at))
            failing.add_metric([tick.sensor], 1.0 if tick.failed else 0.0)
        yield age
        yield failing
        failures = CounterMetricFamily("labflow_sensor_tick_failures", "Sensor ticks that failed", labels=["sensor"])
        for (sensor,), count in sorted(self.dagster.tick_failures.values.items()):
            failures.add_metric([sensor], count)
        yield failures


def _age(now: float, at: float | None) -> float:
    return 0.0 if at is None else max(0.0, now - at)


def attach(lab: Lab) -> PipelineCollector:
    """Publish the pipeline's metrics on the app's registry (read from the lab's Dagster instance)."""
    collector = PipelineCollector(lab, lab.gateway.instance, refresh_s=lab.settings.metrics_refresh_s)
    lab.metrics.registry.register(collector)
    return collector
