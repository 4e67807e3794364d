"""The API on a real temporary Dagster instance whose runs were materialized for real.

``demo`` (one per session, read-only): demo instrument files and a broken file dropped into the inbox,
ingested by the real inbox sensor, processed by ``run_etl``, one HPLC run confirmed and the review
assets (``annotations``, ``confirmed_dataset``) materialized by the real confirmations sensor and
automation. ``api`` (one per test): an empty lab for tests that change things.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from lab_assets.etl import run_etl
from lab_assets.definitions import defs as project_defs
from labflow.review.annotations import Annotation, PeakMark
from labflow.store.catalog import Catalog
from labflow.demo.files import write_demo
from labflow.review.store import ReviewStore
from labflow.settings import PROJECT_ROOT, Settings
from labflow.store.outputs import OutputStore
from resources import build_resources
from lab_assets.gateway import DagsterGateway
from sensors.inbox import build_inbox_sensor
from tests.lab_fixtures import ReviewDaemon, drop

BROKEN_CSV = b"time,value\n1,2\n2,abc\n3,4\n4,5\n"


def make_settings(home: Path, **env: str) -> Settings:
    settings = Settings.from_env({"LABFLOW_HOME": str(home), "LABFLOW_RECIPES_DIR": str(PROJECT_ROOT / "recipes"),
                                  **env})
    settings.ensure_dirs()
    return settings


class InboxDaemon:
    """Does what the Dagster daemon does with the inbox sensor: ticks, adds partitions, executes the runs."""

    def __init__(self, settings: Settings, instance: dg.DagsterInstance, resources: dict):
        self.instance, self.resources = instance, resources
        self.sensor = build_inbox_sensor(settings)
        self.cursor: str | None = None

    def tick(self) -> list[dg.RunRequest]:
        """One sensor evaluation; returns its run requests (not executed)."""
        with dg.build_sensor_context(instance=self.instance, cursor=self.cursor, resources=self.resources) as ctx:
            result = self.sensor(ctx)
        for request in result.dynamic_partitions_requests or []:
            self.instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        self.cursor = result.cursor
        return list(result.run_requests or [])

    def execute(self, request: dg.RunRequest, selection: list[str] | None = None) -> None:
        """Execute a run request (optionally only some of its assets) like the run launcher would."""
        assets = selection or [key.to_user_string() for key in request.asset_selection or []]
        dg.materialize([run_etl], instance=self.instance, resources=self.resources, selection=assets,
                       partition_key=request.partition_key, tags=request.tags, raise_on_error=False)

    def ingest_all(self) -> list[str]:
        """Tick until the complete files are picked up, execute every request; returns the new run keys."""
        self.tick()
        requests = self.tick()
        for request in requests:
            self.execute(request)
        return self.instance.get_dynamic_partitions("runs")


@dataclass
class Lab:
    """A lab with its API: settings, Dagster instance, resources, catalog, app and client."""

    settings: Settings
    instance: dg.DagsterInstance
    resources: dict
    catalog: Catalog
    gateway: DagsterGateway
    app: FastAPI
    client: TestClient
    runs: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def outputs(self) -> OutputStore:
        return OutputStore(self.settings.storage)


def open_lab(settings: Settings, instance: dg.DagsterInstance) -> Lab:
    """The API app on this data directory and instance (runs requested by the API execute in this process)."""
    resources = build_resources(settings)
    defs = dg.Definitions(assets=list(project_defs.assets or []), resources=resources,
                          executor=dg.in_process_executor)  # every asset, on this lab's resources
    gateway = DagsterGateway(instance, defs=defs)
    app = create_app(settings, gateway=gateway)
    return Lab(settings, instance, resources, Catalog(settings.database_url), gateway, app, TestClient(app))


def detected_annotation(lab: Lab, run_key: str) -> Annotation:
    peaks = lab.outputs.read_frame("peaks", run_key)
    return Annotation(channel=peaks["channel"][0], peaks=tuple(PeakMark(time_s=t) for t in peaks["time_s"]))


@contextmanager
def demo_lab(root: Path) -> Iterator[Lab]:
    """Four demo runs (HPLC, ECG, photodetector, furnace) and a broken one; the HPLC run confirmed."""
    settings = make_settings(root / "home")
    (root / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(root / "dagster")) as instance:
        lab = open_lab(settings, instance)
        write_demo(settings.inbox, 4, seed=7)
        drop(settings.inbox, "broken.csv", BROKEN_CSV)
        InboxDaemon(settings, instance, lab.resources).ingest_all()
        lab.runs = {run.original_name.split("_")[0].split(".")[0]: run.run_key
                    for run in lab.catalog.find_runs(limit=100)}
        review = ReviewDaemon(settings, instance, lab.resources)
        ReviewStore(lab.catalog).confirm(lab.runs["run"], "ana", detected_annotation(lab, lab.runs["run"]),
                                         base_version=0)
        review.tick()
        with lab.client:
            yield lab
        lab.catalog.dispose()


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """The demo lab, shared by the tests that only read (keys: run, session, trace, log, broken)."""
    with demo_lab(tmp_path_factory.mktemp("demo_lab")) as lab:
        yield lab


@pytest.fixture
def api(lab_settings: Settings, instance: dg.DagsterInstance) -> Iterator[Lab]:
    """An empty lab (fresh data directory and instance) with its API."""
    lab = open_lab(lab_settings, instance)
    with lab.client:
        yield lab
    lab.catalog.dispose()


@contextmanager
def uvicorn_server(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with a real uvicorn server on a free port (in a thread); yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
