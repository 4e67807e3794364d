"""A legal 250-byte file name whose sidecar name (``<name>.meta.json``) is not legal stops nothing."""

from __future__ import annotations

import subprocess
import sys

from lab_assets.partitions import RUNS_PARTITION
from labflow.settings import PROJECT_ROOT
from tests.lab_fixtures import drop, signal_csv

LONG_NAME = "n" * 246 + ".csv"  # 250 bytes


def test_the_inbox_sensor_ingests_a_long_name_and_the_files_after_it(inbox_daemon, lab_settings, catalog, instance):
    drop(lab_settings.inbox, LONG_NAME, signal_csv(1))
    drop(lab_settings.inbox, "z-after.csv", signal_csv(2))
    inbox_daemon.tick()
    result = inbox_daemon.tick()
    assert len(instance.get_dynamic_partitions(RUNS_PARTITION)) == 2 and result.run_requests
    assert {run.original_name for run in catalog.find_runs()} == {LONG_NAME, "z-after.csv"}


def test_labflow_forward_sends_a_long_name_and_the_files_after_it(s3, bucket, tmp_path):
    (tmp_path / LONG_NAME).write_bytes(b"time_s,v\n0,1\n")
    (tmp_path / "z-after.csv").write_bytes(b"time_s,v\n0,2\n")
    command = [sys.executable, "-m", "cli.main", "forward", "--from", str(tmp_path), "--to", f"s3://{bucket}/lab/",
               "--endpoint-url", s3.url, "--interval", "0.2", "--once"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    keys = {o["Key"] for o in s3.client().list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {f"lab/{LONG_NAME}", "lab/z-after.csv"}
