"""Fixtures for the labelling app's tests: real processed runs on a temporary data directory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import numpy as np
import pytest

from lab_assets.etl import run_etl
from lab_assets.gateway import DagsterGateway
from labflow.settings import PROJECT_ROOT, Settings
from labflow.streams.engine import StreamEngine
from labflow.streams.sources import SourceRegistry
from tests.lab_fixtures import process_run
from tests.labflow.streams.conftest import as_events, noise
from ui.context import AppContext

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = PROJECT_ROOT / ".test-artifacts"  # screenshots of the browser tests
WAIT_MS = 30_000
PEAK_TIMES = (10.0, 25.0)
PEAK_HEIGHTS = (5.0, 3.0)


def two_peak_csv(seed: int = 0, n: int = 400, heights: tuple[float, float] = PEAK_HEIGHTS,
                 second_channel: bool = False) -> bytes:
    """A run with Gaussian peaks of different heights at 10 s and 25 s (0.1 s steps), on noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) * 0.1
    y = sum(h * np.exp(-0.5 * ((t - c) / 0.4) ** 2) for c, h in zip(PEAK_TIMES, heights)) + rng.normal(0, 0.03, n)
    if not second_channel:
        return ("time_s,signal_mV\n" + "".join(f"{a:.1f},{b:.5f}\n" for a, b in zip(t, y))).encode()
    z = 20.0 + 0.1 * t + rng.normal(0, 0.02, n)
    return ("time_s,signal_mV,temperature_C\n"
            + "".join(f"{a:.1f},{b:.5f},{c:.4f}\n" for a, b, c in zip(t, y, z))).encode()


def local_gateway(instance: dg.DagsterInstance, resources: dict) -> DagsterGateway:
    """A gateway that executes requested runs in this process, on the test's instance and data directory."""
    return DagsterGateway(instance, defs=dg.Definitions(assets=[run_etl], resources=resources))


@pytest.fixture
def app_context(lab_settings, instance, lab_resources) -> Iterator[AppContext]:
    ctx = AppContext.create(lab_settings, local_gateway(instance, lab_resources))
    yield ctx
    ctx.gateway.wait_for_local_runs()
    ctx.catalog.dispose()


@pytest.fixture
def processed_run(app_context, lab_settings, instance, lab_resources) -> str:
    """One run (two peaks: 5 mV at 10 s, 3 mV at 25 s) processed through the ETL assets for real."""
    return process_run(lab_settings, app_context.catalog, instance, lab_resources, "run_a.csv", two_peak_csv())


@pytest.fixture
def chromium() -> Path:
    """Debian's chromium; without it the browser tests are skipped locally but fail under ``CI``."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (apt-get install chromium)"
        if "CI" in os.environ:
            pytest.fail(f"{message}; CI is set, so the browser test must run", pytrace=False)
        pytest.skip(message)
    return CHROMIUM


def only_local(page, base_url: str) -> list[str]:
    """Refuse every request of ``page`` that does not go to ``base_url``; returns the list of those refused."""
    outside: list[str] = []

    def route(request_route) -> None:
        if request_route.request.url.startswith(base_url):
            request_route.continue_()
        else:
            outside.append(request_route.request.url)
            request_route.abort()

    page.route("**/*", route)
    return outside


def message_contains(page, text: str) -> None:
    """Wait until the run view's message line contains ``text``."""
    page.wait_for_function("t => document.querySelector('#review-message').innerText.includes(t)", arg=text,
                           timeout=WAIT_MS)


def spooled_stream_lab(lab_settings: Settings, tmp_path: Path, *, shifted: int) -> tuple[Settings, StreamEngine]:
    """A ``probe`` source whose stream (2,000 quiet events, then ``shifted`` at a higher level, a spike at
    event 1500) went through the detectors; settings that read its sources from ``tmp_path``."""
    settings = lab_settings.model_copy(update={"sources_dir": tmp_path / "sources"})
    settings.sources_dir.mkdir()
    (settings.sources_dir / "probe.yaml").write_text("name: probe\nfields: [value]\n")
    engine = StreamEngine(settings.streams, SourceRegistry(settings.sources_dir))
    values = np.r_[noise(2000), noise(shifted, mean=14.0, seed=1)]
    values[1500] = 30.0
    engine.process("probe", as_events(values))
    return settings, engine
