"""Starting the embedded default: the Dagster webserver and daemon on one data directory."""

from __future__ import annotations

import os
import shutil
import sys
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
