"""End to end: the real `dagster dev` (webserver + daemon) picks files up from the inbox."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from lab_assets.gateway import DagsterGateway
from labflow.review.annotations import Annotation, PeakMark
from labflow.store.catalog import Catalog
from labflow.review.store import ReviewStore
from labflow.devserver import dagster_dev_command, prepare_dagster_home, process_env, stop_group
from labflow.settings import Settings
from labflow.store.outputs import OutputStore
from tests.lab_fixtures import drop, free_port, responds, signal_csv, wait_for

pytestmark = pytest.mark.e2e
DEADLINE_S = 300


@pytest.fixture
def dagster_dev(tmp_path: Path):
    settings = Settings.from_env({"LABFLOW_HOME": str(tmp_path / "home"), "LABFLOW_SENSOR_INTERVAL": "1"})
    prepare_dagster_home(settings)
    port = free_port()
    env = process_env(settings, {**os.environ, "LABFLOW_SENSOR_INTERVAL": "1"})
    log = (tmp_path / "dagster-dev.log").open("wb")
    process = subprocess.Popen(dagster_dev_command(port), env=env, stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True, cwd=settings.dagster_home)
    try:
        wait_for(lambda: responds(f"http://127.0.0.1:{port}/server_info"), 120, "the Dagster webserver")
        yield settings, port
    finally:
        stop_group(process)
        log.close()
        output = (tmp_path / "dagster-dev.log").read_text(errors="replace")
        print(output[-4000:])
    assert "will not be used" not in output  # run where DAGSTER_HOME's dagster.yaml is, as labflow dev does


def confirm_and_wait_for_the_dataset(settings: Settings, catalog: Catalog, instance: dg.DagsterInstance,
                                     key: str) -> None:
    """A confirmation written to the catalog reaches confirmed_dataset through the running daemon."""
    peaks = OutputStore(settings.storage).read_frame("peaks", key)
    annotation = Annotation(channel=peaks["channel"][0], peaks=tuple(PeakMark(time_s=t) for t in peaks["time_s"]))
    started = time.monotonic()
    ReviewStore(catalog).confirm(key, "ana", annotation, base_version=0)

    def dataset_rows():
        records = instance.fetch_materializations(dg.AssetKey("confirmed_dataset"), limit=1).records
        if not records:
            return None
        frame = pl.read_parquet(records[0].asset_materialization.metadata["path"].path)
        return frame.to_dicts() if key in frame["run_key"].to_list() else None

    (row,) = wait_for(dataset_rows, 120, "the confirmation to reach confirmed_dataset")
    print(f"confirmation → new confirmed_dataset version in {time.monotonic() - started:.1f} s")
    main_peak = peaks.sort("height").row(-1, named=True)  # hplc-01 → chromatograph recipe: main peak area
    assert (row["annotation_version"], row["objective_kind"]) == (1, "main_peak_area")
    assert row["objective"] == pytest.approx(main_peak["area"], rel=1e-6)


def check_pipeline_metrics(client: TestClient) -> None:
    """The API's /metrics read from the running daemon's instance: its sensors tick, the inbox sensor's cursor
    has every file handled, the files and runs since the API started are counted."""
    text = client.get("/metrics").text

    def value(name: str, **labels: str) -> float:
        for found, value in re.findall(rf"^{name}(?:\{{(.*)\}})? (\S+)$", text, re.M):
            if dict(re.findall(r'(\w+)="([^"]*)"', found)) == labels:
                return float(value)
        raise AssertionError(f"{name}{labels} not in /metrics:\n{text}")

    assert value("labflow_inbox_files_waiting") == 0 and value("labflow_inbox_oldest_waiting_seconds") == 0
    assert value("labflow_sensor_last_tick_age_seconds", sensor="inbox_sensor") < 60
    assert value("labflow_sensor_failing", sensor="inbox_sensor") == 0
    assert value("labflow_files_ingested_total", source="inbox") == 4
    assert value("labflow_files_quarantined", source="inbox", instrument="unknown") == 1
    assert sum(float(v) for v in re.findall(r'^labflow_etl_arrival_to_peaks_seconds_count\{[^}]*\} (\S+)$',
                                             text, re.M)) == 3
    assert value("labflow_metrics_refresh_errors_total", part="sensors") == 0


def test_files_dropped_into_the_inbox_are_processed_by_the_daemon(dagster_dev):
    settings, _ = dagster_dev
    catalog = Catalog(settings.database_url)
    instance = dg.DagsterInstance.from_config(str(settings.dagster_home))
    api = TestClient(create_app(settings, gateway=DagsterGateway(instance)))  # its counters start now
    for i in range(3):
        drop(settings.inbox, f"hplc-01/run{i}.csv", signal_csv(i), sidecar={"operator": f"op{i}"})
    drop(settings.inbox, "bad.csv", b"just some prose, not a table\n")
    try:
        keys = wait_for(lambda: [r.run_key for r in catalog.find_runs() if r.original_name != "bad.csv"]
                        if catalog.count_runs() == 4 else None, 60, "4 registered runs")
        wait_for(lambda: set(keys) <= instance.get_materialized_partitions(dg.AssetKey("quality_report"))
                 and set(keys) <= instance.get_materialized_partitions(dg.AssetKey("peaks")),
                 DEADLINE_S, "peaks and quality_report of every good file")
        outputs = OutputStore(settings.storage)
        for key in keys:
            peaks = outputs.read_frame("peaks", key)
            assert sorted(round(t) for t in peaks["time_s"]) == [10, 25]
            run = catalog.get_run(key)
            assert run.status == "processed" and run.operator.startswith("op") and run.quality_score > 0.5
        (bad,) = wait_for(lambda: catalog.find_runs(status="failed"), 60, "the bad file to fail")
        assert (settings.quarantine / f"{bad.run_key}.csv.error.txt").exists()
        confirm_and_wait_for_the_dataset(settings, catalog, instance, keys[0])
        with api:
            check_pipeline_metrics(api)
    finally:
        catalog.dispose()
        instance.dispose()
