"""Starting the embedded default: Dagster (webserver + daemon), the API and the app on one data directory."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from labflow.settings import PROJECT_ROOT, Settings

INSTANCE_YAML = PROJECT_ROOT / "dagster.yaml"
WORKSPACE_YAML = PROJECT_ROOT / "workspace.yaml"


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
    return env


def dagster_dev_command(port: int = 3000, host: str = "127.0.0.1") -> list[str]:
    """``dagster dev`` on the project's workspace (webserver, daemon, code server)."""
    dagster = Path(sys.executable).with_name("dagster")
    return [str(dagster), "dev", "-w", str(WORKSPACE_YAML), "-h", host, "-p", str(port)]


@dataclass
class Service:
    """One process of the development stack."""

    name: str
    url: str
    command: list[str]
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
            Service("Dagster UI", self.dagster_url, dagster_dev_command(dagster_port, host)),
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
        print(f"labflow: data in {self.settings.home}", flush=True)
        for service in self.services:
            service.process = subprocess.Popen(service.command, env=env, stdin=subprocess.DEVNULL,
                                               start_new_session=True)
            print(f"labflow: {service.name:<14} {service.url}", flush=True)
        if self.on_ready is not None:
            threading.Thread(target=self._announce_ready, name="labflow-demo", daemon=True).start()
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
