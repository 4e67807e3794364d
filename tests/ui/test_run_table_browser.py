"""The runs table in a real browser: read-only, long run names cut short with the whole name on hover,
headers on one line, every column on screen."""

from __future__ import annotations

import shutil

import pytest

from tests.lab_fixtures import process_run
from tests.ui.conftest import ARTIFACTS, WAIT_MS, message_contains, two_peak_csv
from tests.ui.test_browser import app_url  # noqa: F401 (fixture)

pytestmark = pytest.mark.e2e
LONG_NAME = "2026-12-07_HPLC-01_column-temperature-screening_batch-07_replicate-3_gradient-B_final.csv"


def test_the_runs_table_is_read_only_with_long_names_cut_short(  # noqa: F811
        chromium, app_url, lab_settings, catalog, instance, lab_resources, tmp_path):
    from playwright.sync_api import sync_playwright

    key = process_run(lab_settings, catalog, instance, lab_resources, LONG_NAME, two_peak_csv())
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(app_url)
        cell = page.locator("#runs-table [role=gridcell]").filter(has_text=key[:12]).first
        cell.wait_for(timeout=WAIT_MS)
        shot = tmp_path / "runs_table.png"
        page.locator("#runs-table").screenshot(path=str(shot))
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copyfile(shot, ARTIFACTS / "runs_table.png")
        headers = page.evaluate("""() => [...document.querySelectorAll('#runs-table [role=columnheader]')].map(h => {
            const b = h.getBoundingClientRect(); return [h.innerText.trim(), b.width, b.height]; })""")
        cell_box = cell.bounding_box()
        hover = page.evaluate("k => [...document.querySelectorAll('#runs-table [title]')]"
                              ".map(e => e.getAttribute('title')).filter(t => t.includes(k))", key)
        cell.click()
        message_contains(page, f"Opened {key}")
        cell.dblclick()
        page.wait_for_timeout(300)
        editors = page.locator("#runs-table input:not([type=file]), #runs-table textarea, "
                               "#runs-table [contenteditable=true]").count()
        browser.close()

    assert editors == 0, "clicking a row put a cell into edit mode"
    assert hover == [key], f"the whole name is not on hover: {hover}"
    assert cell_box["width"] <= 205  # cut short: the long name does not push the other columns away
    heights = [h for _, _, h in headers if _]
    assert max(heights) < 2.2 * min(heights), f"headers wrap: {headers}"
