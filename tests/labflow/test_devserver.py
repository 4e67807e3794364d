"""Stopping a started service stops everything it started, including children that outlive it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from labflow.store.catalog import Catalog
from labflow.devserver import ArrivalReport, DevStack, Service, log_path, process_env, stop_group
from labflow.settings import PROJECT_ROOT

def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_child_that_ignores_sigterm_does_not_outlive_its_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    script = (
        "import subprocess, sys, time\n"
        "code = 'import os, signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "open(sys.argv[1], \"w\").write(str(os.getpid())); time.sleep(300)'\n"
        f"subprocess.Popen([sys.executable, '-c', code, {str(pid_file)!r}])\n"
        "time.sleep(300)\n"
    )
    leader = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    deadline = time.monotonic() + 30
    while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(pid_file.read_text())
    assert alive(child)

    stop_group(leader, timeout_s=5)

    assert leader.poll() is not None
    deadline = time.monotonic() + 5
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child), "the child ignoring SIGTERM survived its group"


def test_the_console_reports_each_file_once_as_it_ends(lab_settings) -> None:
    catalog = Catalog(lab_settings.database_url)
    for key in ("old", "a", "b"):
        catalog.register_file(run_key=key, sha256=key * 8, size_bytes=1, original_name=f"{key}.csv", source="inbox",
                              object_path=key, sidecar_name=None, sidecar_text=None, detected_at=datetime.now(UTC))
    catalog.set_status("old", "processed")
    report = ArrivalReport(catalog)  # what had ended before is not repeated
    assert report.lines() == []
    catalog.set_status("a", "processed")
    catalog.set_status("b", "failed", error="line 3: 'abc' is not a number\n(quarantined as b.csv)")
    assert report.lines() == ["processed   a.csv → a", "quarantined b.csv: line 3: 'abc' is not a number"]
    assert report.lines() == []
    catalog.dispose()


def test_a_services_output_goes_to_its_log_file_and_only_errors_to_the_console(lab_settings, capsys) -> None:
    stack = DevStack(lab_settings)
    noisy = ("print('DEBUG - step started'); print('INFO - 3 runs'); print('Traceback (most recent call last):'); "
             "print('dagster - \\x1b[34mERROR\\x1b[0m - the sensor failed')")
    service = Service("REST API", "", [sys.executable, "-c", noisy])
    service.process = subprocess.Popen(service.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    stack._keep_log(service)
    log = log_path(lab_settings, "REST API")
    assert log.name == "rest-api.log" and log.parent == lab_settings.home / "logs"
    written = log.read_text().splitlines()
    assert written[:3] == ["DEBUG - step started", "INFO - 3 runs", "Traceback (most recent call last):"]
    console = capsys.readouterr()
    assert "DEBUG" not in console.out + console.err and "INFO" not in console.out + console.err
    assert "Traceback" not in console.err  # the line naming the error is enough; the rest is in the log
    assert "REST API error: dagster - ERROR - the sensor failed" in console.err


def test_dagster_dev_runs_where_its_instance_configuration_is(lab_settings) -> None:
    dagster = next(s for s in DevStack(lab_settings).services if s.name == "Dagster UI")
    assert dagster.cwd == lab_settings.dagster_home  # no "./dagster.yaml will not be used" warning
    assert str(PROJECT_ROOT) in process_env(lab_settings, {})["PYTHONPATH"].split(os.pathsep)
