"""Reading what the asset graph produced: the latest materialization and the file it points to.

Nothing is recomputed here. When a run's output is missing, a Dagster run already producing it is
reported; in lazy mode one is requested (:class:`MaterializationRequested` becomes ``202 Accepted``);
otherwise the answer says why the output is not there.

Looking a materialization up in the Dagster instance costs a few milliseconds, so a found one is
reused for :data:`FRESH_FOR_S`: a new materialization shows within that time. A missing one is
looked up again on every request (so nothing is requested twice because of a stale answer).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, NoReturn

import anyio
import polars as pl

from api.caching import LruCache, SingleFlight
from api.errors import ApiProblem
from labflow.store.catalog import RunRecord
from labflow.processing.pipeline import STEPS
from labflow.settings import Settings
from labflow.store.outputs import MissingOutputError, open_output_store
from lab_assets.gateway import DagsterGateway, Materialization

FRESH_FOR_S = 1.0
FRAME_CACHE_BYTES = 512 * 2**20
RESPONSE_CACHE_BYTES = 128 * 2**20


class MaterializationRequested(Exception):
    """The output is being produced by Dagster run ``job_id`` (requested now or earlier)."""

    def __init__(self, job_id: str, detail: str):
        super().__init__(detail)
        self.job_id = job_id
        self.detail = detail


class MaterializedReader:
    """Latest materializations of a run's assets and their stored files (frames cached by file version)."""

    def __init__(self, settings: Settings, gateway: DagsterGateway, *, fresh_for_s: float = FRESH_FOR_S):
        self.settings = settings
        self.gateway = gateway
        self.fresh_for_s = fresh_for_s
        self.outputs = open_output_store(settings)
        self.frames = LruCache(8, max_weight=FRAME_CACHE_BYTES, weigh=lambda frame: frame.estimated_size())
        self.responses = LruCache(256, max_weight=RESPONSE_CACHE_BYTES, weigh=_body_size)
        self._found = LruCache(1024)  # (asset, partition) -> (when looked up, materialization)
        self._lookups = SingleFlight()

    def latest(self, asset: str, partition: str | None = None) -> Materialization | None:
        """The newest materialization of ``asset`` (of one partition), at most :attr:`fresh_for_s` old."""
        found = self.recent(asset, partition)
        if found is not None:
            return found
        with self._lookups((asset, partition)):  # requests arriving together ask the instance once
            materialization = self.recent(asset, partition) or self.gateway.latest(asset, partition)
            if materialization is not None:
                self._found.put((asset, partition), (time.monotonic(), materialization))
        return materialization

    def recent(self, asset: str, partition: str | None = None) -> Materialization | None:
        """The materialization looked up less than :attr:`fresh_for_s` ago, if any (no I/O)."""
        found = self._found.find((asset, partition))
        return found[1] if found is not None and time.monotonic() - found[0] < self.fresh_for_s else None

    async def latest_async(self, asset: str, partition: str | None = None) -> Materialization | None:
        """:meth:`latest` for async routes: the instance is only queried (in a worker thread) when needed."""
        return self.recent(asset, partition) or await anyio.to_thread.run_sync(self.latest, asset, partition)

    def locate(self, run: RunRecord, asset: str, ext: str = "parquet") -> Path:
        """The file of the run's latest ``asset`` materialization, or the reason it is not there."""
        materialization = self.latest(asset, run.run_key)
        if materialization is None:
            self._missing(run, asset)
        return self.path_of(materialization, asset, ext)

    def path_of(self, materialization: Materialization, asset: str, ext: str = "parquet") -> Path:
        """A local file with a materialization's output (a cached copy when outputs live in S3)."""
        key = materialization.partition or "latest"
        try:
            return self.outputs.local_path(asset, key, ext)
        except MissingOutputError:
            raise ApiProblem(404, f"{asset} of {key} was materialized to {self.outputs.location(asset, key, ext)}, "
                                  "which is no longer in storage; materialize it again from the Dagster UI") from None

    def frame(self, path: Path) -> pl.DataFrame:
        """A stored Parquet output (cached while the file is unchanged)."""
        return self.frames.get(("frame", *file_version(path)), lambda: pl.read_parquet(path))

    def document(self, path: Path) -> dict[str, Any]:
        """A stored JSON output."""
        return json.loads(path.read_text())

    def _missing(self, run: RunRecord, asset: str) -> NoReturn:
        if run.status == "failed":
            reason = run.error or "no reason recorded"
            raise ApiProblem(409, f"run {run.run_key} failed, so it has no {asset}: {reason}. "
                                  "Fix the file and drop it into the inbox again")
        wanted = STEPS.index(asset) + 1
        missing = [step for step in STEPS[:wanted] if self.latest(step, run.run_key) is None]
        chain = list(STEPS[STEPS.index(missing[0]):wanted])
        active = self.gateway.active_run(run.run_key, chain)
        if active is not None:
            raise MaterializationRequested(active, f"{asset} of run {run.run_key} is being materialized")
        if self.settings.etl_mode == "lazy":
            job = self.gateway.request(chain, run.run_key, tags={"labflow/requested_by": "api"})
            raise MaterializationRequested(job, f"{asset} of run {run.run_key} was not materialized yet (lazy mode); "
                                                f"requested {', '.join(chain)}")
        raise ApiProblem(404, f"{asset} of run {run.run_key} is not materialized yet (run status {run.status}); "
                              "the pipeline materializes it when it processes the run")


def _body_size(value: Any) -> float:
    """Bytes of a cached answer: a body, or a ``(body, media type, headers)`` tuple."""
    return len(value[0]) if isinstance(value, tuple) else len(value)


def file_version(path: Path) -> tuple[str, int, int]:
    """``(path, mtime_ns, size)``: changes whenever the file is rewritten."""
    stat = path.stat()
    return str(path), stat.st_mtime_ns, stat.st_size
