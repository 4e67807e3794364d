"""Dagster from outside a run: read the latest materializations, and ask for new ones.

The API and the labelling app use this. They read what the asset graph produced (materialization
events in the instance named by ``DAGSTER_HOME``, and the storage paths they point to); they never
recompute silently. When something is missing (lazy mode) they *request* a materialization:

- through the Dagster webserver's GraphQL API (``LABFLOW_DAGSTER_URL``), so the run goes through the
  instance's run queue and launcher like any other run (the normal case under ``labflow dev`` and
  in production);
- or, when no webserver answers (tests, a single script), by executing the asset job in this
  process on a background thread. Both record a real run in the same instance.

Before the first submission the webserver is asked which instance it serves (its storage, from
``{ instance { info } }``): a webserver of another data directory is refused with
:class:`WrongDagsterInstance`, never sent a run.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlparse

import dagster as dg
import polars as pl

from lab_assets.events import check_evaluation
from labflow.store.catalog import Catalog
from labflow.ops.periods import Period
from labflow.ops.run_kinds import FILES, KIND_TAG, OUTCOME_TAG
from labflow.ops.stats import CHECKS_SCHEMA, DAGSTER_RUNS_SCHEMA, OpsData, StatsFilters, load_catalog_data

ACTIVE_STATUSES = (dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
                   dg.DagsterRunStatus.STARTED)
LOCATION_NAME = "labflow"
ETL_RUNS_LIMIT = 20_000
CHECK_EVENTS_LIMIT = 100_000


@dataclass(frozen=True)
class Materialization:
    """One materialization event: which asset (and partition), by which run, when, with what metadata."""

    asset: str
    partition: str | None
    run_id: str
    timestamp: datetime
    metadata: dict[str, Any]


@dataclass(frozen=True)
class RunState:
    """Where a requested run stands: ``queued``, ``running``, ``succeeded``, ``failed`` or ``canceled``."""

    run_id: str
    state: str
    dagster_status: str


class WrongDagsterInstance(RuntimeError):
    """The webserver at the configured URL serves another Dagster instance than this process reads."""


_IN_PROCESS = threading.Lock()
"""One in-process run at a time: each run start re-configures Python logging (``dictConfig``), and two at
once in one process were seen to deadlock on logging's locks."""


class DagsterGateway:
    """Read materializations from a Dagster instance and request runs of the labflow assets."""

    def __init__(self, instance: dg.DagsterInstance, *, webserver_url: str | None = None,
                 defs: dg.Definitions | None = None, location: str = LOCATION_NAME):
        self.instance = instance
        self.webserver_url = webserver_url
        self.location = location
        self._defs = defs
        self._threads: list[threading.Thread] = []
        self._same_instance_checked = False

    # -- reading -------------------------------------------------------------------------------
    def latest(self, asset: str, partition: str | None = None) -> Materialization | None:
        """The newest materialization of ``asset`` (of one partition if given), or ``None``."""
        newest = self.history(asset, partition, limit=1)
        return newest[0] if newest else None

    def history(self, asset: str, partition: str | None = None, *, limit: int = 20) -> list[Materialization]:
        """The newest ``limit`` materializations of ``asset``, newest first."""
        records_filter = dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset),
                                               asset_partitions=[partition] if partition else None)
        result = []
        for record in self.instance.fetch_materializations(records_filter, limit=limit).records:
            event = record.asset_materialization
            assert event is not None
            result.append(Materialization(asset, event.partition, record.run_id, _utc(record.timestamp),
                                          {k: _plain(v) for k, v in event.metadata.items()}))
        return result

    def materialized_partitions(self, asset: str) -> set[str]:
        """Partition keys of ``asset`` that have been materialized at least once."""
        return set(self.instance.get_materialized_partitions(dg.AssetKey(asset)))

    def run_state(self, run_id: str) -> RunState | None:
        """The state of a run, or ``None`` if the instance does not know it."""
        run = self.instance.get_run_by_id(run_id)
        if run is None:
            return None
        return RunState(run_id, _state(run.status), run.status.value)

    def active_run(self, partition: str, assets: Sequence[str]) -> str | None:
        """The id of a queued or running run already producing one of ``assets`` for ``partition``."""
        runs = self.instance.get_runs(dg.RunsFilter(tags={"dagster/partition": partition},
                                                    statuses=list(ACTIVE_STATUSES)), limit=20)
        wanted = {dg.AssetKey(a) for a in assets}
        for run in runs:
            if run.asset_selection is None or wanted & set(run.asset_selection):
                return run.run_id
        return None

    def etl_runs(self, since: datetime) -> pl.DataFrame:
        """Finished ETL runs since ``since``: start, end, status and how many files each processed."""
        records = self.instance.get_run_records(
            dg.RunsFilter(created_after=since, statuses=[dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE]),
            limit=ETL_RUNS_LIMIT)
        rows = [(r.dagster_run.run_id, _utc(r.start_time), _utc(r.end_time), r.dagster_run.status.value,
                 int(r.dagster_run.tags["labflow/files"])) for r in records
                if r.start_time and r.end_time and "labflow/files" in r.dagster_run.tags]
        return pl.DataFrame(rows, schema=DAGSTER_RUNS_SCHEMA, orient="row")

    def file_batches(self, limit: int = 10) -> list[dict[str, Any]]:
        """The newest runs of arriving files: start, Dagster status, files, and what happened to them
        (``"19 processed, 1 quarantined (b.csv: …)"``, the run's outcome tag once it ended)."""
        records = self.instance.get_run_records(dg.RunsFilter(tags={KIND_TAG: FILES[KIND_TAG]}), limit=limit)
        return [{"run_id": r.dagster_run.run_id, "started": _utc(r.start_time) if r.start_time else None,
                 "status": r.dagster_run.status.value, "files": r.dagster_run.tags.get("labflow/files", ""),
                 "outcome": r.dagster_run.tags.get(OUTCOME_TAG, "")} for r in records]

    def check_evaluations(self, since: datetime) -> pl.DataFrame:
        """Asset-check evaluations since ``since``: run key (partition), time, check name, passed."""
        records = self.instance.get_event_records(
            dg.EventRecordsFilter(dg.DagsterEventType.ASSET_CHECK_EVALUATION, after_timestamp=since.timestamp()),
            limit=CHECK_EVENTS_LIMIT)
        rows = [(partition, _utc(record.timestamp), evaluation.check_name, bool(evaluation.passed))
                for record in records for evaluation, partition in [check_evaluation(record)] if evaluation]
        return pl.DataFrame(rows, schema=CHECKS_SCHEMA, orient="row")

    def ops_data(self, catalog: Catalog, period: Period, filters: StatsFilters = StatsFilters()) -> OpsData:
        """Catalog counts and this instance's ETL runs and check evaluations for ``period`` and the one before
        (checks only of runs that match ``filters``)."""
        since = period.previous().start
        return load_catalog_data(catalog, period, filters, dagster_runs=self.etl_runs(since),
                                 checks=self.check_evaluations(since))

    # -- requesting ----------------------------------------------------------------------------
    def request(self, assets: Sequence[str], partition: str, *, tags: Mapping[str, str] | None = None) -> str:
        """Ask Dagster to materialize ``assets`` for ``partition``; returns the run id at once.

        A run already queued or running for the same partition and assets is reused.
        """
        existing = self.active_run(partition, assets)
        if existing is not None:
            return existing
        run_tags = {"dagster/partition": partition, "labflow/requested_by": "gateway", **(tags or {})}
        if self.webserver_url and self._webserver_up():
            self._check_same_instance()
            return self._submit_graphql(assets, run_tags)
        return self._execute_here(assets, partition, run_tags)

    def _webserver_up(self) -> bool:
        import urllib.request

        try:
            with urllib.request.urlopen(f"{self.webserver_url}/server_info", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def _check_same_instance(self) -> None:
        """Refuse a webserver whose instance storage is not this instance's (checked once, when it first matters)."""
        if self._same_instance_checked:
            return
        import httpx

        answer = httpx.post(f"{self.webserver_url}/graphql", json={"query": "{ instance { info } }"}, timeout=30)
        theirs = storage_identity((answer.json().get("data") or {}).get("instance", {}).get("info") or "")
        ours = storage_identity(self.instance.info_str())
        if theirs != ours:
            raise WrongDagsterInstance(
                f"the Dagster webserver at {self.webserver_url} serves another instance ({theirs or 'unknown'}) "
                f"than this data directory's ({ours}); point LABFLOW_DAGSTER_URL at the webserver started on "
                "this data directory (same DAGSTER_HOME)")
        self._same_instance_checked = True

    def _submit_graphql(self, assets: Sequence[str], tags: dict[str, str]) -> str:
        from dagster_graphql import DagsterGraphQLClient

        url = urlparse(self.webserver_url)
        client = DagsterGraphQLClient(url.hostname or "127.0.0.1", port_number=url.port,
                                      use_https=url.scheme == "https", timeout=30)
        return client.submit_job_execution("__ASSET_JOB", repository_location_name=self.location,
                                           asset_selection=[dg.AssetKey(a) for a in assets], tags=tags)

    def _execute_here(self, assets: Sequence[str], partition: str, tags: dict[str, str]) -> str:
        job = self._asset_job()
        run_id = str(uuid.uuid4())
        selection = [dg.AssetKey(a) for a in assets]

        def execute() -> None:
            with _IN_PROCESS:
                job.execute_in_process(instance=self.instance, partition_key=partition, asset_selection=selection,
                                       run_id=run_id, tags=tags, raise_on_error=False)

        thread = threading.Thread(target=execute, name=f"labflow-run-{run_id[:8]}", daemon=True)
        thread.start()
        self._threads.append(thread)
        return run_id

    def process_now(self, run_keys: Sequence[str], *, batch_size: int = 50, source: str = "history") -> list[bool]:
        """Add ``run_keys`` as partitions and run the whole ETL chain over them here, one run per batch.

        For seeding and scripts; returns whether each batch's run succeeded (a bad file fails its run
        but not the others, exactly as under the daemon).
        """
        from lab_assets.partitions import RUNS_PARTITION
        from sensors.batching import batch_run_requests

        known = self.instance.has_dynamic_partition
        self.instance.add_dynamic_partitions(RUNS_PARTITION, [k for k in run_keys if not known(RUNS_PARTITION, k)])
        job = self._asset_job()
        with _IN_PROCESS:
            return [job.execute_in_process(instance=self.instance, partition_key=request.partition_key,
                                           asset_selection=request.asset_selection, tags=request.tags,
                                           raise_on_error=False).success
                    for request in batch_run_requests(run_keys, batch_size=batch_size, etl_mode="eager",
                                                      source=source)]

    def _asset_job(self) -> dg.JobDefinition:
        """The code location's asset job (the given definitions, else the project's), for running here."""
        if self._defs is None:
            from lab_assets.definitions import defs

            self._defs = defs
        return self._defs.resolve_implicit_global_asset_job_def()

    def wait_for_local_runs(self, timeout_s: float = 120.0) -> None:
        """Wait for runs this process executes itself (tests, scripts)."""
        for thread in self._threads:
            thread.join(timeout_s)
        self._threads = [t for t in self._threads if t.is_alive()]


def storage_identity(info: str) -> str:
    """Where an instance keeps its data, from its ``info_str()``: the storage lines (base folder, storage classes)."""
    keys = ("base_dir:", "run_storage:", "event_log_storage:", "schedule_storage:")
    return "; ".join(line.strip() for line in info.splitlines() if line.strip().startswith(keys))


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, timezone.utc)


def _state(status: dg.DagsterRunStatus) -> str:
    if status in (dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED):
        return "queued"
    if status in (dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING):
        return "running"
    if status == dg.DagsterRunStatus.SUCCESS:
        return "succeeded"
    if status == dg.DagsterRunStatus.CANCELED:
        return "canceled"
    return "failed"


def _plain(value: Any) -> Any:
    """A metadata value as plain JSON-able data."""
    inner = getattr(value, "value", value)
    if isinstance(inner, (int, float, str, bool)) or inner is None:
        return inner
    if hasattr(value, "path"):
        return str(value.path)
    if hasattr(value, "md_str"):
        return value.md_str
    return str(inner)
