"""Starting the embedded default: Dagster (webserver + daemon), the API and the app on one data directory.

The console shows what a person needs: the URLs, each file processed or quarantined, and errors. Every
service's full output goes to ``$LABFLOW_HOME/logs/<service>.log``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from labflow.store.catalog import Catalog
from labflow.settings import PROJECT_ROOT, Settings

INSTANCE_YAML = PROJECT_ROOT / "dagster.yaml"
WORKSPACE_YAML = PROJECT_ROOT / "workspace.yaml"
ERROR_LINE = re.compile(r"\b(ERROR|CRITICAL)\b")  # the line that names an error (its traceback is in the log)
ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")
ARRIVAL_POLL_S = 2.0


def prepare_dagster_home(settings: Settings, instance_yaml: Path = INSTANCE_YAML) -> Path:
    """Create the data directory and put the instance's ``dagster.yaml`` into ``DAGSTER_HOME``."""
    settings.ensure_dirs()
    target = settings.dagster_home / "dagster.yaml"
    if not target.exists() or target.read_bytes() != instance_yaml.read_bytes():
        shutil.copyfile(instance_yaml, target)
    return settings.dagster_home


def process_env(settings: Settings, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for Dagster processes: absolute ``LABFLOW_HOME`` and its ``DAGSTER_HOME``."""
    env = dict(os.environ if base is None else base)
    env["LABFLOW_HOME"] = str(settings.home)
    env["DAGSTER_HOME"] = str(settings.dagster_home)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH")) if p)
    return env


def log_path(settings: Settings, service: str) -> Path:
    """Where a service's full output goes: ``$LABFLOW_HOME/logs/<service>.log``."""
    return settings.home / "logs" / f"{re.sub(r'[^a-z0-9]+', '-', service.lower()).strip('-')}.log"


class ArrivalReport:
    """One console line per file as it ends: processed, or quarantined with the reason (from the catalog).

    Runs that had already ended when the report started are not repeated.
    """

    def __init__(self, catalog: Catalog, limit: int = 500):
        self.catalog, self.limit = catalog, limit
        self.seen = {run.run_key: run.status for run in catalog.find_runs(limit=limit)}

    def lines(self) -> list[str]:
        """The files that ended since the last call."""
        lines = []
        for run in reversed(self.catalog.find_runs(limit=self.limit)):
            if run.status not in ("processed", "failed") or self.seen.get(run.run_key) == run.status:
                continue
            self.seen[run.run_key] = run.status
            if run.status == "processed":
                lines.append(f"processed   {run.original_name} → {run.run_key}")
            else:
                reason = (run.error or "no reason recorded").splitlines()[0]
                lines.append(f"quarantined {run.original_name}: {reason}")
        return lines


def dagster_dev_command(port: int = 3000, host: str = "127.0.0.1") -> list[str]:
    """``dagster dev`` on the project's workspace (webserver, daemon, code server); run it in ``DAGSTER_HOME``
    (:class:`DevStack` does), where the instance's ``dagster.yaml`` is."""
    dagster = Path(sys.executable).with_name("dagster")
    return [str(dagster), "dev", "-w", str(WORKSPACE_YAML), "-h", host, "-p", str(port)]


@dataclass
class Service:
    """One process of the development stack."""

    name: str
    url: str
    command: list[str]
    cwd: Path | None = None
    process: subprocess.Popen | None = None


class DevStack:
    """Dagster (webserver + daemon), the REST API and the labelling app as child process groups.

    Ctrl-C (or SIGTERM) stops all of them; if one of them dies, the others are stopped too and its
    exit code is returned, so a broken service is never left half-running.
    """

    def __init__(self, settings: Settings, *, host: str = "127.0.0.1", dagster_port: int = 3000,
                 on_ready: Callable[[str], list[str]] | None = None):
        self.settings = settings
        self.api_url = f"http://{host}:{settings.api_port}"
        self.on_ready = on_ready
        labflow = [sys.executable, "-m", "cli.main"]
        self.dagster_url = f"http://{host}:{dagster_port}"
        self.services = [
            Service("Dagster UI", self.dagster_url, dagster_dev_command(dagster_port, host), settings.dagster_home),
            Service("REST API", f"http://{host}:{settings.api_port}/docs",
                    [*labflow, "api", "--host", host, "--port", str(settings.api_port)]),
            Service("labelling app", f"http://{host}:{settings.ui_port}",
                    [*labflow, "ui", "--host", host, "--port", str(settings.ui_port)]),
        ]
        self._stopping = False

    def run(self) -> int:
        """Start every service, wait until one stops or a signal arrives, then stop them all."""
        env = process_env(self.settings)
        env["LABFLOW_DAGSTER_URL"] = self.dagster_url
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._on_signal)
        print(f"labflow: data in {self.settings.home}; full logs in {self.settings.home / 'logs'}", flush=True)
        for service in self.services:
            service.process = subprocess.Popen(service.command, env=env, stdin=subprocess.DEVNULL,
                                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                               cwd=service.cwd, start_new_session=True)
            threading.Thread(target=self._keep_log, args=(service,), name=f"log-{service.name}", daemon=True).start()
            print(f"labflow: {service.name:<14} {service.url}", flush=True)
        if self.on_ready is not None:
            threading.Thread(target=self._announce_ready, name="labflow-demo", daemon=True).start()
        threading.Thread(target=self._report_arrivals, name="labflow-arrivals", daemon=True).start()
        code = 0
        while not self._stopping:
            for service in self.services:
                assert service.process is not None
                if service.process.poll() is not None:
                    print(f"labflow: {service.name} stopped (exit code {service.process.returncode}); "
                          "stopping the others", file=sys.stderr, flush=True)
                    code = service.process.returncode or 1
                    self._stopping = True
                    break
            time.sleep(0.5)
        self.stop()
        return code

    def _keep_log(self, service: Service) -> None:
        """Write the service's output to its log file; echo its errors to the console (not while stopping,
        when Dagster's daemon reports the runs it can no longer start)."""
        assert service.process is not None and service.process.stdout is not None
        path = log_path(self.settings, service.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab") as log:
            for raw in service.process.stdout:
                log.write(raw)
                log.flush()
                line = ANSI_COLOUR.sub("", raw.decode(errors="replace")).rstrip()
                if ERROR_LINE.search(line) and not self._stopping:
                    print(f"labflow: {service.name} error: {line[:300]} (more in {path})", file=sys.stderr,
                          flush=True)

    def _report_arrivals(self) -> None:
        """Every few seconds, one line per file processed or quarantined since the last look."""
        catalog = Catalog(self.settings.database_url)
        report = ArrivalReport(catalog)
        while not self._stopping:
            for line in report.lines():
                print(f"labflow: {line}", flush=True)
            time.sleep(ARRIVAL_POLL_S)
        catalog.dispose()

    def _announce_ready(self) -> None:
        assert self.on_ready is not None
        for line in self.on_ready(self.api_url):
            print(f"labflow: demo: {line}", flush=True)

    def _on_signal(self, signum: int, _frame: object) -> None:
        self._stopping = True

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM every process group, then SIGKILL what is still running after ``timeout_s``."""
        running = [s.process for s in self.services if s.process is not None]
        for process in running:
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for process in running:
            stop_group(process, max(0.1, deadline - time.monotonic()))


def stop_group(process: subprocess.Popen, timeout_s: float = 30.0) -> None:
    """Stop a process started with ``start_new_session=True`` and everything it started.

    SIGTERM to the group, SIGKILL if the leader is still there after ``timeout_s``; then SIGKILL to
    whatever is left in the group (Dagster's code servers can outlive the daemon that started them).
    """
    _signal_group(process, signal.SIGTERM)
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        _signal_group(process, signal.SIGKILL)
        process.wait(10)
    _signal_group(process, signal.SIGKILL)


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass
