"""The labelling app in a real browser (Debian's chromium, headless) against real Dagster pieces.

A person opens a processed run, zooms, marks it "peak detection wrong", moves a peak and confirms;
one review-daemon tick later the newest ``confirmed_dataset`` materialization holds the corrected
peak's objective. Every request the page makes must go to the app itself (no internet needed).
A screenshot of the run view is kept as a test artifact (``tmp_path`` and ``.test-artifacts/``).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl
import pytest

from labflow.processing.peaks import measure_peaks
from labflow.review.store import ReviewStore
from tests.lab_fixtures import free_port, latest_dataset, process_confirmations, process_run
from tests.ui.conftest import ARTIFACTS, WAIT_MS, local_gateway, message_contains, only_local, two_peak_csv

pytestmark = pytest.mark.e2e
NOTE = "the 10 s peak is an injection artefact; the real one elutes at 17 s"


@pytest.fixture
def app_url(lab_settings, instance, lab_resources) -> Iterator[str]:
    from ui.app import build_app, launch_options

    app = build_app(lab_settings, gateway=local_gateway(instance, lab_resources))
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **launch_options())
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.close()


def drag_across(page, start: float, end: float) -> None:
    """Press, move and release the mouse across the chart, from ``start`` to ``end`` (fractions of its width)."""
    box = page.locator("#run-chart svg.marks").bounding_box()
    y = box["y"] + box["height"] * 0.5
    page.mouse.move(box["x"] + box["width"] * start, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * end, y, steps=10)
    page.mouse.up()


def test_a_person_corrects_and_confirms_a_run_and_the_dataset_follows(
        chromium, app_url, lab_settings, catalog, instance, lab_resources, tmp_path):
    from playwright.sync_api import sync_playwright

    key = process_run(lab_settings, catalog, instance, lab_resources, "run_a.csv", two_peak_csv())
    process_run(lab_settings, catalog, instance, lab_resources, "run_b.csv", two_peak_csv(seed=1))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1600, "height": 1100})
        outside = only_local(page, app_url)
        page.goto(app_url)
        page.locator("#author input").fill("ana")
        page.locator("#author input").press("Enter")
        page.locator("#runs-table [role=gridcell]").filter(has_text=key).click(timeout=WAIT_MS)
        message_contains(page, f"Opened {key}")
        page.wait_for_selector("#run-chart svg.marks", timeout=WAIT_MS)

        # zoom into the first peak: the server sends that window only; double-click shows the whole run again
        drag_across(page, 0.15, 0.35)
        message_contains(page, "Zoomed to")
        page.wait_for_function("() => /^Zoomed to .* of the run's 400 samples/.test("
                               "document.querySelector('#run-chart .caption').innerText)", timeout=WAIT_MS)
        page.locator("#reset-zoom").click()
        message_contains(page, "whole run")

        page.locator("#verdict label").filter(has_text="Peak detection wrong").click()
        message_contains(page, "Draft saved: Peak detection wrong")
        page.locator("#reasons label").filter(has_text="A peak is at the wrong position").click()
        page.wait_for_timeout(500)
        page.locator("#peak-pick input").click()
        page.get_by_role("option").first.click()
        page.locator("#note textarea").fill(NOTE)  # saved when the box is left: by the click below
        page.locator("#peak-time input").fill("17")
        page.locator("#move-peak").click()
        message_contains(page, "Peak moved to 17 s")
        page.wait_for_function("() => document.querySelector('#peak-table').innerText.includes('moved')",
                               timeout=WAIT_MS)
        shot = tmp_path / "run_view.png"
        page.screenshot(path=str(shot), full_page=True)
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copyfile(shot, ARTIFACTS / "run_view.png")

        page.locator("#confirm").click()
        message_contains(page, "Confirmed as version 1")
        # the review daemon's tick runs its own event loop: not on the thread Playwright's loop runs on
        with ThreadPoolExecutor(1) as daemon:
            daemon.submit(process_confirmations, instance, lab_resources).result()
        page.get_by_role("tab", name="Confirmed dataset").click()
        page.wait_for_function("k => document.querySelector('#dataset').innerText.includes(k)", arg=key,
                               timeout=WAIT_MS)
        shown_digest = page.locator("#dataset-summary strong").first.inner_text()
        browser.close()

    (version,) = ReviewStore(catalog).history(key)
    assert version.annotation.note == NOTE and version.annotation.reasons == ("peak_position",)
    assert [(p.time_s, p.origin) for p in version.annotation.peaks] == [(17.0, "moved"), (pytest.approx(25, abs=0.2),
                                                                                         "detected")]
    metadata, dataset = latest_dataset(instance)
    row = dataset.filter(dataset["run_key"] == key).row(0, named=True)
    frame = pl.read_parquet(lab_settings.storage / "clean_series" / f"{key}.parquet")
    expected = measure_peaks(frame["time_s"].to_numpy(), frame["signal_mV_clean"].to_numpy(), np.array([17.0, 25.0]))
    assert (row["annotation_version"], row["verdict"], row["confirmed_by"]) == (1, "peaks_wrong", "ana")
    assert row["objective"] == pytest.approx(float(expected["height"].max()))
    assert row["objective"] < 3.5  # the 5 mV peak at 10 s was moved off: the 3 mV one is now the main peak
    assert shown_digest == metadata["digest"].value
    assert outside == [], f"the page asked the internet for {outside}"
