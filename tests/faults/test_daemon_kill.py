"""kill -9 of the whole `dagster dev` process group in the middle of a burst, then a restart:
every file is processed exactly once, and the run queue is not wedged by the runs that died."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import dagster as dg
import pytest

from labflow.store.catalog import Catalog
from labflow.devserver import dagster_dev_command, prepare_dagster_home, process_env, stop_group
from labflow.settings import Settings
from sensors.dead_runs import WORKER_GONE
from tests.lab_fixtures import drop, free_port, responds, signal_csv, wait_for

pytestmark = pytest.mark.e2e
FILES = 16
RECOVERY_S = 300  # from the restart to every file processed, on 2 shared cores under load


def start_dagster_dev(settings: Settings, env: dict[str, str], log: Path) -> subprocess.Popen:
    port = free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(dagster_dev_command(port), env=env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    wait_for(lambda: responds(f"http://127.0.0.1:{port}/server_info"), 120, "the Dagster webserver")
    return process


def quality_reports(instance: dg.DagsterInstance) -> dict[str, int]:
    """How many quality_report materializations each partition has."""
    records = instance.fetch_materializations(dg.AssetKey("quality_report"), limit=10 * FILES).records
    counts: dict[str, int] = {}
    for record in records:
        counts[record.partition_key] = counts.get(record.partition_key, 0) + 1
    return counts


def test_kill_9_mid_burst_then_restart_processes_every_file_exactly_once(tmp_path: Path):
    overrides = {"LABFLOW_HOME": str(tmp_path / "home"), "LABFLOW_SENSOR_INTERVAL": "1", "LABFLOW_BATCH_SIZE": "4"}
    settings = Settings.from_env(overrides)
    prepare_dagster_home(settings)
    env = process_env(settings, {**os.environ, **overrides})
    log = tmp_path / "dagster-dev.log"
    process = start_dagster_dev(settings, env, log)
    instance = dg.DagsterInstance.from_config(str(settings.dagster_home))
    catalog = Catalog(settings.database_url)
    try:
        for i in range(FILES):
            drop(settings.inbox, f"hplc-01/burst{i:02d}.csv", signal_csv(i))
        def in_progress_after_a_first_batch() -> list[str]:
            running = instance.get_run_ids(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
            return running if running and quality_reports(instance) else []

        started = wait_for(in_progress_after_a_first_batch, 180, "a run in progress after a first batch", poll=0.2)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        done_at_kill = len(quality_reports(instance))
        assert done_at_kill < FILES, "the burst finished before the kill; nothing was interrupted"

        restarted = time.monotonic()
        process = start_dagster_dev(settings, env, log)
        wait_for(lambda: catalog.count_runs() == FILES and len(quality_reports(instance)) == FILES,
                 RECOVERY_S, f"all {FILES} files processed after the restart", poll=2)
        recovery_s = time.monotonic() - restarted
        print(f"kill -9 with {done_at_kill}/{FILES} processed; all processed {recovery_s:.0f} s after the restart")

        counts = quality_reports(instance)
        assert set(counts.values()) == {1}, f"processed more than once: {[k for k, n in counts.items() if n > 1]}"
        assert {run.status for run in catalog.find_runs()} == {"processed"}
        for run_id in started:
            run = instance.get_run_by_id(run_id)
            assert run.status == dg.DagsterRunStatus.FAILURE
        failures = instance.all_logs(started[0], of_type=dg.DagsterEventType.RUN_FAILURE)
        assert WORKER_GONE.split("{")[0] in failures[-1].dagster_event.message
    finally:
        stop_group(process)
        catalog.dispose()
        instance.dispose()
        print(log.read_text(errors="replace")[-3000:])
