"""The Patterns tab in a real browser: a source's chart and pattern list appear; "False alarm" is recorded."""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from labflow.streams.feedback import FeedbackBook
from tests.lab_fixtures import free_port
from tests.ui.conftest import ARTIFACTS, WAIT_MS, local_gateway, spooled_stream_lab

pytestmark = pytest.mark.e2e


def test_a_person_marks_a_pattern_as_a_false_alarm(chromium, lab_settings, instance, lab_resources, tmp_path):
    from ui.app import build_app, launch_options

    settings, engine = spooled_stream_lab(lab_settings, tmp_path, shifted=1000)
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
