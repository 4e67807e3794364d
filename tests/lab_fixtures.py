"""Fixtures for tests that run real Dagster pieces on a temporary data directory (pytest plugin)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import numpy as np
import pytest

from labflow.catalog import Catalog
from labflow.settings import PROJECT_ROOT, Settings
from resources import build_resources


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
