"""Reading what the asset graph produced: the latest materialization and the file it points to.

Nothing is recomputed here. When a run's output is missing, a Dagster run already producing it is
reported; in lazy mode one is requested (:class:`MaterializationRequested` becomes ``202 Accepted``);
otherwise the answer says why the output is not there.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import polars as pl

from api.errors import ApiProblem
from labflow.catalog import RunRecord
from labflow.pipeline import STEPS
from labflow.settings import Settings
from labflow.storage import OutputStore
from resources.dagster_gateway import DagsterGateway, Materialization

T = TypeVar("T")


class MaterializationRequested(Exception):
    """The output is being produced by Dagster run ``job_id`` (requested now or earlier)."""

    def __init__(self, job_id: str, detail: str):
        super().__init__(detail)
        self.job_id = job_id
        self.detail = detail


class LruCache:
    """A small thread-safe least-recently-used cache."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = compute()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


class MaterializedReader:
    """Latest materializations of a run's assets and their stored files (frames cached by file version)."""

    def __init__(self, settings: Settings, gateway: DagsterGateway):
        self.settings = settings
        self.gateway = gateway
        self.outputs = OutputStore(settings.storage)
        self.frames = LruCache(8)
        self.responses = LruCache(256)

    def locate(self, run: RunRecord, asset: str, ext: str = "parquet") -> Path:
        """The file of the run's latest ``asset`` materialization, or the reason it is not there."""
        materialization = self.gateway.latest(asset, run.run_key)
        if materialization is None:
            self._missing(run, asset)
        return self.path_of(materialization, asset, ext)

    def path_of(self, materialization: Materialization, asset: str, ext: str = "parquet") -> Path:
        """Where a materialization's output is stored (its ``path`` metadata, else the store's layout)."""
        key = materialization.partition or "latest"
        path = Path(materialization.metadata.get("path") or self.outputs.path(asset, key, ext))
        if not path.is_file():
            raise ApiProblem(404, f"{asset} of {key} was materialized to {path.name}, which is no longer in "
                                  "storage; materialize it again from the Dagster UI")
        return path

    def frame(self, path: Path) -> pl.DataFrame:
        """A stored Parquet output (cached while the file is unchanged)."""
        return self.frames.get(("frame", *file_version(path)), lambda: pl.read_parquet(path))

    def document(self, path: Path) -> dict[str, Any]:
        """A stored JSON output."""
        return json.loads(path.read_text())

    def _missing(self, run: RunRecord, asset: str) -> NoReturn:
        if run.status == "failed":
            raise ApiProblem(409, f"run {run.run_key} failed, so it has no {asset}: {run.error or 'no reason recorded'}"
                                  ". Fix the file and drop it into the inbox again")
        wanted = STEPS.index(asset) + 1
        missing = [step for step in STEPS[:wanted] if self.gateway.latest(step, run.run_key) is None]
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


def file_version(path: Path) -> tuple[str, int, int]:
    """``(path, mtime_ns, size)``: changes whenever the file is rewritten."""
    stat = path.stat()
    return str(path), stat.st_mtime_ns, stat.st_size
