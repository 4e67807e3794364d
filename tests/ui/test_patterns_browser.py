"""The Patterns tab in a real browser: a source's chart and pattern list appear; "False alarm" is recorded."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from playwright.sync_api import sync_playwright

from labflow.streams.engine import StreamEngine
from labflow.streams.feedback import FeedbackBook
from labflow.streams.sources import SourceRegistry
from tests.labflow.streams.conftest import as_events, noise
from tests.ui.conftest import local_gateway
from tests.ui.test_browser import ARTIFACTS, WAIT_MS, chromium, free_port  # noqa: F401 (chromium: a fixture)

pytestmark = pytest.mark.e2e


def test_a_person_marks_a_pattern_as_a_false_alarm(chromium, lab_settings, instance, lab_resources, tmp_path):
    from ui.app import build_app, launch_options

    settings = dataclasses.replace(lab_settings, sources_dir=tmp_path / "sources")
    settings.sources_dir.mkdir()
    (settings.sources_dir / "probe.yaml").write_text("name: probe\nfields: [value]\n")
    engine = StreamEngine(settings.streams, SourceRegistry(settings.sources_dir))
    values = np.r_[noise(2000), noise(1000, mean=14.0, seed=1)]
    values[1500] = 30.0
    engine.process("probe", as_events(values))
    spike = next(p for p in engine.store.read_patterns("probe") if p["event_id"] == "1500")

    app = build_app(settings, gateway=local_gateway(instance, lab_resources))
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **launch_options())
    try:
        with sync_playwright() as play:
            browser = play.chromium.launch(executable_path=str(chromium), args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 1200})
            page.goto(f"http://127.0.0.1:{port}/", wait_until="load")
            page.get_by_role("tab", name="Patterns").click()
            page.locator("#patterns-summary").get_by_text("2,000 recent events").wait_for(timeout=WAIT_MS)
            page.locator("#patterns-table").get_by_text(spike["pattern_id"]).click()
            page.wait_for_function("id => document.querySelector('#patterns-chosen textarea, #patterns-chosen input')"
                                   ".value === id", arg=spike["pattern_id"], timeout=WAIT_MS)
            page.locator("#patterns-false").click()
            page.locator("#patterns-message").get_by_text("detector is now stricter").wait_for(timeout=WAIT_MS)
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "patterns_tab.png"), full_page=True)
            browser.close()
    finally:
        app.close()
    records = FeedbackBook(settings.streams / "feedback").records("probe")
    assert [(r["pattern_id"], r["verdict"]) for r in records] == [(spike["pattern_id"], "false_positive")]
