"""The loop in a real browser: proposals reviewed in the run view, iterations and 'label next' in the Loop tab."""

from __future__ import annotations

import dagster as dg
import pytest

from lab_assets.etl import run_etl
from lab_assets.loop import LOOP_ASSETS
from lab_assets.partitions import ITERATIONS_PARTITION
from labflow.loop.iterations import IterationStore
from labflow.review.store import ReviewStore
from labflow.settings import PROJECT_ROOT
from lab_assets.gateway import DagsterGateway
from tests.lab_fixtures import free_port, process_run
from tests.loop_fixtures import KINDS, anomalous_series, oracle_confirm, series_csv
from tests.ui.conftest import WAIT_MS, message_contains

pytestmark = pytest.mark.e2e
ARTIFACTS = PROJECT_ROOT / ".test-artifacts"


def test_proposals_are_accepted_in_the_run_view_and_the_loop_tab_drives_iterations(
        chromium, lab_settings, catalog, instance, lab_resources):
    from playwright.sync_api import sync_playwright

    from ui.app import build_app, launch_options

    runs = {}
    for seed, kinds in enumerate([KINDS, KINDS, ("spike", "shift"), ("burst", "shift")]):
        t, y, truth = anomalous_series(seed, kinds)
        runs[process_run(lab_settings, catalog, instance, lab_resources, f"s{seed}.csv", series_csv(t, y))] = truth
    keys = list(runs)
    for key in keys[:3]:
        oracle_confirm(ReviewStore(catalog), key, runs[key])
    iteration = IterationStore(catalog).create("ana", config={"holdout_runs": [keys[0]], "label_budget": 5})
    instance.add_dynamic_partitions(ITERATIONS_PARTITION, [iteration.key])
    assert dg.materialize(LOOP_ASSETS, instance=instance, resources=lab_resources,
                          partition_key=iteration.key).success
    open_run = keys[3]  # nobody confirmed it: the model's proposals are all there is

    gateway = DagsterGateway(instance, defs=dg.Definitions(assets=[run_etl, *LOOP_ASSETS], resources=lab_resources))
    app = build_app(lab_settings, gateway=gateway)
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **launch_options())
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(chromium), headless=True, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1600, "height": 1400})
            page.goto(f"http://127.0.0.1:{port}/")
            page.locator("#author input").fill("ana")
            page.locator("#author input").press("Enter")
            page.locator("#runs-table [role=gridcell]").filter(has_text=open_run).click(timeout=WAIT_MS)
            message_contains(page, f"Opened {open_run}")
            page.wait_for_function("() => /proposes/.test(document.querySelector('#proposal-text').innerText)",
                                   timeout=WAIT_MS)
            assert "proposed anomalies (model)" in page.locator("#run-chart").inner_text()
            page.locator("#accept-proposals-above").click()
            message_contains(page, "accepted")
            page.wait_for_function("() => /accepted/.test(document.querySelector('#proposal-table').innerText)",
                                   timeout=WAIT_MS)
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "loop_run_view.png"), full_page=True)
            draft = ReviewStore(catalog).get_draft(open_run, "ana").annotation
            assert draft.proposals and all(p.decision == "accepted" for p in draft.proposals)
            assert len(draft.intervals) == len(draft.proposals)

            page.get_by_role("tab", name="Loop").click()
            page.wait_for_function("() => /Reviewing/.test(document.querySelector('#loop-iterations').innerText)",
                                   timeout=WAIT_MS)
            page.locator("#loop-label-next").click()
            page.wait_for_function("() => /Label next/.test(document.querySelector('#loop-advice').innerText)",
                                   timeout=WAIT_MS)
            assert open_run in page.locator("#loop-advice").inner_text()
            page.wait_for_selector("#loop-chart img, #loop-chart svg, #loop-chart canvas", timeout=WAIT_MS)
            page.screenshot(path=str(ARTIFACTS / "loop_tab.png"), full_page=True)
            browser.close()
    finally:
        app.close()
