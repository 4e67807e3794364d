"""What the run view says is true, in a real browser (Debian's chromium, headless) on real Dagster pieces.

A run whose objective cannot be measured (no peaks) is said not to enter the confirmed dataset, and after
it is confirmed the dataset indeed leaves it out; a marked anomaly interval is a labelled band over the
chart's whole height; the y axis names the channel and its unit. Screenshots go to ``.test-artifacts/``.
"""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from tests.lab_fixtures import latest_dataset, process_confirmations, process_run
from tests.ui.conftest import ARTIFACTS, WAIT_MS, message_contains, two_peak_csv
from tests.ui.test_browser import app_url  # noqa: F401 (fixture)
from ui.charts import INTERVAL_COLOR

pytestmark = pytest.mark.e2e


def ramp_csv(n: int = 400) -> bytes:
    """A slow ramp without any peak: the default recipe's objective (main peak height) cannot be measured."""
    t = np.arange(n) * 0.1
    return ("time_s,signal (mV)\n" + "".join(f"{a:.1f},{0.01 * a:.5f}\n" for a in t)).encode()


def with_unit(csv: bytes) -> bytes:
    return csv.replace(b"signal_mV", b"signal (mV)", 1)


def open_run(page, key: str) -> None:
    page.locator("#runs-table [role=gridcell]").filter(has_text=key).first.click(timeout=WAIT_MS)
    message_contains(page, f"Opened {key}")
    page.wait_for_selector("#run-chart svg.marks", timeout=WAIT_MS)


def objective_says(page, text: str) -> None:
    page.wait_for_function("t => document.querySelector('#objective').innerText.includes(t)", arg=text,
                           timeout=WAIT_MS)


def test_the_would_enter_sentence_and_the_interval_band_are_true(  # noqa: F811
        chromium, app_url, lab_settings, catalog, instance, lab_resources, tmp_path):
    from playwright.sync_api import sync_playwright

    flat = process_run(lab_settings, catalog, instance, lab_resources, "ramp.csv", ramp_csv())
    peaked = process_run(lab_settings, catalog, instance, lab_resources, "peaks.csv", with_unit(two_peak_csv()))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1600, "height": 1100})
        page.goto(app_url)
        page.locator("#author input").fill("ana")
        page.locator("#author input").press("Enter")

        open_run(page, flat)
        objective_says(page, "would not enter (its objective could not be measured)")
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator("#objective").screenshot(path=str(ARTIFACTS / "would_not_enter.png"))
        page.locator("#confirm").click()
        message_contains(page, "Confirmed as version 1")

        open_run(page, peaked)
        objective_says(page, "Confirmed now, this run would enter the confirmed dataset")
        page.locator("#interval-start input").fill("14")
        page.locator("#interval-end input").fill("20")
        page.locator("#interval-label input").fill("bubble")
        page.locator("#add-interval").click()
        message_contains(page, "Interval 14–20 s marked")
        page.wait_for_function("() => document.querySelector('#run-chart').innerText.includes('interval · bubble')",
                               timeout=WAIT_MS)
        page.wait_for_timeout(500)
        band, lines = page.evaluate("""c => {
            const paths = [...document.querySelectorAll('#run-chart svg.marks g.mark-line path')];
            const box = p => { const b = p.getBoundingClientRect(); return [b.left, b.top, b.width, b.height]; };
            const band = paths.filter(p => (p.getAttribute('stroke') || '').toLowerCase() === c).map(box);
            const lines = paths.filter(p => (p.getAttribute('stroke') || '').toLowerCase() !== c).map(box);
            return [band, lines];
        }""", INTERVAL_COLOR.lower())
        axis_titles = page.evaluate("() => [...document.querySelectorAll('#run-chart svg.marks .role-axis-title')]"
                                    ".map(t => t.textContent)")
        for close in page.locator(".toast-close").all():  # notices from earlier steps would cover the chart
            close.click()
        page.wait_for_timeout(300)
        shot = tmp_path / "interval_band.png"
        page.locator("#run-chart").screenshot(path=str(shot))
        shutil.copyfile(shot, ARTIFACTS / "interval_band.png")
        page.locator("#confirm").click()
        message_contains(page, "Confirmed as version 1")
        browser.close()

    assert len(band) == 1, f"one band path expected, found {band}"
    left, top, width, height = band[0]
    line_top = min(b[1] for b in lines)
    line_bottom = max(b[1] + b[3] for b in lines)
    assert top <= line_top + 2 and top + height >= line_bottom - 2  # over the whole height of what is drawn
    chart_width = max(b[0] + b[2] for b in lines) - min(b[0] for b in lines)
    assert width == pytest.approx(chart_width * 6 / 39.9, rel=0.1)  # 14–20 s of a 0–39.9 s run
    assert "signal (mV)" in axis_titles and "time_s (s)" in axis_titles  # the axis as the file names it

    with ThreadPoolExecutor(1) as daemon:  # the review daemon's tick runs its own event loop
        daemon.submit(process_confirmations, instance, lab_resources).result()
    _, dataset = latest_dataset(instance)
    assert dataset["run_key"].to_list() == [peaked]  # the run without an objective stayed out, as said
