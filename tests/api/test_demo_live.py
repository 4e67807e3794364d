"""`labflow dev --demo` fills the Patterns and Models tabs through the real API (served by uvicorn)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import httpx

from labflow.demo.live import DEMO_ENERGY_ASSET, DEMO_SOURCE, DEMO_STREAM, send_demo_stream, start_demo_training
from tests.api.conftest import Lab, uvicorn_server


def wait_until(check, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def test_the_demo_stream_ends_now_and_yields_patterns(api: Lab) -> None:
    rows = len(DEMO_STREAM.read_text().splitlines()) - 1
    with uvicorn_server(api.app) as url, httpx.Client(base_url=url) as http:
        assert send_demo_stream(api.settings, url) == f"{rows} events replayed to {DEMO_SOURCE}"
        page = wait_until(lambda: (p := http.get("/api/v1/patterns", params={"source": DEMO_SOURCE}).json())
                          ["total"] and p, 60, "pattern events of the demo stream")
    newest = datetime.fromisoformat(page["items"][0]["timestamp"])
    now = datetime.now(timezone.utc)
    assert now - timedelta(days=2) < newest <= now + timedelta(seconds=5), "the demo stream must end now"


def test_the_demo_training_job_gives_an_active_model(api: Lab) -> None:
    with uvicorn_server(api.app) as url, httpx.Client(base_url=url) as http:
        line = start_demo_training(api.settings, url)
        assert line.startswith(f"forecast training for {DEMO_ENERGY_ASSET} started"), line
        assets = wait_until(lambda: [a for a in http.get("/api/v1/assets").json() if a["active"]], 180,
                            "an active demo model")
    assert assets[0]["asset_id"] == DEMO_ENERGY_ASSET and assets[0]["active"] == 1
