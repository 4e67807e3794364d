"""What ``labflow dev --demo`` sends once the API answers, so every tab has something to show:
the recorded furnace-room stream (Patterns) and a forecast training job for a demo workshop (Models)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from labflow.store.atomic import write_atomic
from labflow.forecasting.demo import energy_csv
from labflow.settings import PROJECT_ROOT, Settings
from labflow.streams.replay import recorded_events, replay, shift_to_now
from labflow.streams.sources import SourceRegistry

DEMO_STREAM = PROJECT_ROOT / "examples" / "streams" / "demo-sensor.csv"
DEMO_SOURCE = "demo-sensor"
DEMO_ENERGY_ASSET = "workshop-1"


def wait_for_api(url: str, timeout_s: float = 120.0) -> bool:
    """Whether the API answered ``/api/v1/sources`` within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/v1/sources", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(1)
    return False


def send_demo_stream(settings: Settings, url: str) -> str:
    """Replay the recorded sensor stream once, stamped so that it ends now; returns what was sent."""
    config = SourceRegistry(settings.sources_dir).get(DEMO_SOURCE)
    events = recorded_events(DEMO_STREAM, config)
    shift_to_now(events, anchor=-1)
    report = replay(events, DEMO_SOURCE, url, speed=0.0)
    return f"{report.events} events replayed to {DEMO_SOURCE}"


def demo_energy_csv() -> bytes:
    """Eight weeks of the demo workshop's consumption: what its forecast model is trained on."""
    return energy_csv(8, seed=3)


def start_demo_training(settings: Settings, url: str) -> str:
    """Write eight weeks of a demo workshop's consumption and ask the API to train its forecast model."""
    path = settings.home / "demo" / f"{DEMO_ENERGY_ASSET}.csv"
    write_atomic(path, demo_energy_csv())
    answer = httpx.post(f"{url}/api/v1/training-jobs", timeout=30,
                        json={"asset_id": DEMO_ENERGY_ASSET, "data_url": Path(path).as_uri()})
    if answer.status_code >= 400:
        return f"demo training not started: {answer.status_code} {answer.text[:200]}"
    return f"forecast training for {DEMO_ENERGY_ASSET} started (job {answer.json().get('job_id', '?')})"


def seed_live_demo(settings: Settings, url: str) -> list[str]:
    """Both demos, each reported as one line; a failure is reported, never raised (the stack keeps running)."""
    if not wait_for_api(url):
        return ["demo data not sent: the API did not answer within 120 s"]
    lines = []
    for step in (send_demo_stream, start_demo_training):
        try:
            lines.append(step(settings, url))
        except Exception as error:  # a demo must never stop the services
            lines.append(f"{step.__name__} failed: {error}")
    return lines
