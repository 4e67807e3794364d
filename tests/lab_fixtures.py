"""Fixtures for tests that run real Dagster pieces on a temporary data directory (pytest plugin)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest

from lab_assets.etl import run_etl
from lab_assets.partitions import RUNS_PARTITION
from lab_assets.review import annotations, confirmed_dataset
from labflow.store.catalog import Catalog
from labflow.ingest.register import ingest_file
from labflow.store.objects import open_object_store
from labflow.settings import PROJECT_ROOT, Settings
from resources import build_resources
from sensors.confirmations import build_confirmations_sensor


@pytest.fixture
def lab_settings(tmp_path: Path) -> Settings:
    """Settings for a fresh data directory with a SQLite catalog."""
    settings = Settings.from_env({"LABFLOW_HOME": str(tmp_path / "home"),
                                  "LABFLOW_RECIPES_DIR": str(PROJECT_ROOT / "recipes")})
    settings.ensure_dirs()
    return settings


@pytest.fixture
def lab_resources(lab_settings: Settings) -> dict:
    return build_resources(lab_settings)


@pytest.fixture
def catalog(lab_settings: Settings) -> Iterator[Catalog]:
    store = Catalog(lab_settings.database_url)
    yield store
    store.dispose()


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    """A real, persistent (SQLite) Dagster instance in a temporary directory."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as dagster_instance:
        yield dagster_instance


def free_port() -> int:
    """A TCP port nobody listens on right now (for servers a test starts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def signal_csv(seed: int = 0, n: int = 400, peaks: tuple[float, ...] = (10.0, 25.0)) -> bytes:
    """A small instrument CSV: time in seconds and one channel with Gaussian peaks on noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) * 0.1
    y = sum(5.0 * np.exp(-0.5 * ((t - c) / 0.4) ** 2) for c in peaks) + rng.normal(0, 0.05, n)
    lines = ["time_s,signal_mV"] + [f"{a:.1f},{b:.5f}" for a, b in zip(t, y)]
    return ("\n".join(lines) + "\n").encode()


def drop(inbox: Path, relative: str, data: bytes, sidecar: dict | None = None) -> Path:
    """Put a file (and optional JSON sidecar) into the inbox."""
    path = inbox / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if sidecar is not None:
        path.with_name(path.name + ".meta.json").write_text(json.dumps(sidecar))
    path.write_bytes(data)
    return path


def register_run(settings: Settings, catalog: Catalog, instance: dg.DagsterInstance, relative: str, data: bytes,
                 sidecar: dict | None = None) -> str:
    """Drop and register a file the way the inbox sensor does (catalog + partition); return its run key."""
    drop(settings.inbox, relative, data, sidecar)
    outcome = ingest_file(settings.inbox, relative, objects=open_object_store(settings), catalog=catalog,
                          is_known_run=lambda key: False, now=datetime.now(timezone.utc))
    instance.add_dynamic_partitions(RUNS_PARTITION, [outcome.run_key])
    return outcome.run_key


def process_run(settings: Settings, catalog: Catalog, instance: dg.DagsterInstance, resources: dict,
                relative: str, data: bytes, sidecar: dict | None = None) -> str:
    """Register a file and materialize its whole ETL chain for real; return its run key."""
    key = register_run(settings, catalog, instance, relative, data, sidecar)
    assert dg.materialize([run_etl], instance=instance, resources=resources, partition_key=key).success
    return key


class ReviewDaemon:
    """Does what the daemon does for the review assets, in this process and on a real instance.

    One :meth:`tick` evaluates the confirmations sensor (keeping its cursor), executes the runs it
    requests for ``annotations`` partitions, then evaluates the automation conditions and
    materializes ``confirmed_dataset`` if they request it.
    """

    def __init__(self, settings: Settings, instance: dg.DagsterInstance, resources: dict):
        self.instance, self.resources = instance, resources
        self.sensor = build_confirmations_sensor(settings)
        self.cursor: str | None = None
        self.automation_cursor = None
        self.evaluate_automation()  # the daemon's first tick happens when it starts

    def evaluate_automation(self) -> None:
        """Evaluate the automation conditions; materialize ``confirmed_dataset`` if they request it."""
        review_defs = dg.Definitions(assets=[run_etl, annotations, confirmed_dataset], resources=self.resources)
        evaluation = dg.evaluate_automation_conditions(defs=review_defs, instance=self.instance,
                                                       cursor=self.automation_cursor)
        self.automation_cursor = evaluation.cursor
        if evaluation.get_num_requested(confirmed_dataset.key):
            dataset = dg.materialize([annotations, confirmed_dataset], selection=[confirmed_dataset],
                                     instance=self.instance, resources=self.resources)
            assert dataset.success

    def tick(self) -> list[dg.RunRequest]:
        with dg.build_sensor_context(instance=self.instance, cursor=self.cursor,
                                     resources=self.resources) as context:
            result = self.sensor(context)
        self.cursor = result.cursor
        for request in result.run_requests or []:
            outcome = dg.materialize([run_etl, annotations], selection=[annotations], instance=self.instance,
                                     resources=self.resources, partition_key=request.partition_key,
                                     tags=request.tags, raise_on_error=False)
            assert outcome.success, f"annotations[{request.partition_key}] failed"
        self.evaluate_automation()
        return list(result.run_requests or [])


_review_daemons: dict[int, ReviewDaemon] = {}


def process_confirmations(instance: dg.DagsterInstance, resources: dict) -> None:
    """One review-daemon tick (sensor → annotations runs → automation → confirmed_dataset) on ``instance``.

    The sensor cursor is kept per instance between calls, as the daemon would keep it.
    """
    settings = resources["lab"].settings()
    daemon = _review_daemons.get(id(instance))
    if daemon is None or daemon.instance is not instance:
        daemon = _review_daemons[id(instance)] = ReviewDaemon(settings, instance, resources)
    daemon.tick()


def latest_dataset(instance: dg.DagsterInstance) -> tuple[dict, pl.DataFrame]:
    """Metadata and rows of the newest ``confirmed_dataset`` materialization."""
    records = instance.fetch_materializations(dg.AssetKey("confirmed_dataset"), limit=1).records
    assert records, "confirmed_dataset was never materialized"
    metadata = records[0].asset_materialization.metadata
    return metadata, pl.read_parquet(metadata["path"].path)
