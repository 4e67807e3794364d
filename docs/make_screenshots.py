"""Make ``docs/run_view.png``: the labelling app's run view on demo data, in headless chromium.

    python docs/make_screenshots.py [--out docs/run_view.png]

Demo files are ingested and processed by the real ETL assets in a temporary data directory; the
app is started in this process and driven like a person would: open a chromatogram, tick a reason,
mark an anomaly interval. Needs Debian's chromium at /usr/bin/chromium (nothing is downloaded).
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

CHROMIUM = "/usr/bin/chromium"
WAIT_MS = 30_000


def processed_demo_home(home: Path):
    """A data directory with demo runs processed through the ETL assets; returns (settings, gateway)."""
    import dagster as dg

    from lab_assets.etl import run_etl
    from lab_assets.partitions import RUNS_PARTITION
    from labflow.store.catalog import Catalog
    from labflow.demo.files import write_demo
    from labflow.ingest.register import ingest_file
    from labflow.store.objects import open_object_store
    from labflow.settings import Settings
    from resources import build_resources
    from lab_assets.gateway import DagsterGateway

    settings = Settings.from_env({"LABFLOW_HOME": str(home), "LABFLOW_RECIPES_DIR": str(PROJECT_ROOT / "recipes")})
    settings.ensure_dirs()
    instance = dg.DagsterInstance.ephemeral()
    resources = build_resources(settings)
    catalog = Catalog(settings.database_url)
    for path in write_demo(settings.inbox, 8):
        outcome = ingest_file(settings.inbox, str(path.relative_to(settings.inbox)),
                              objects=open_object_store(settings),
                              catalog=catalog, is_known_run=lambda key: False, now=datetime.now(timezone.utc))
        instance.add_dynamic_partitions(RUNS_PARTITION, [outcome.run_key])
        dg.materialize([run_etl], instance=instance, resources=resources, partition_key=outcome.run_key)
    catalog.dispose()
    return settings, DagsterGateway(instance, defs=dg.Definitions(assets=[run_etl], resources=resources))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def shoot(url: str, out: Path) -> None:
    """Open the first chromatogram, tick a reason, mark an interval, and photograph the page's top."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1500, "height": 1000}, device_scale_factor=1)
        page.goto(url)
        page.locator("#author input").fill("alice")
        page.locator("#author input").press("Enter")
        page.locator("#runs-table [role=gridcell]").filter(has_text="hplc-01").first.click(timeout=WAIT_MS)
        page.wait_for_selector("#run-chart svg.marks", timeout=WAIT_MS)
        page.locator("#reasons label").filter(has_text="Baseline drift").click()
        page.locator("#interval-start input").fill("1000")
        page.locator("#interval-end input").fill("1150")
        page.locator("#interval-label input").fill("baseline drift")
        page.locator("#add-interval").click()
        page.wait_for_function("() => document.querySelector('#review-message').innerText.includes('marked')",
                               timeout=WAIT_MS)
        page.wait_for_timeout(1500)
        for close in page.locator(".toast-close").all():  # notices would cover the chart
            close.click()
        page.wait_for_timeout(300)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(out), full_page=True, clip={"x": 0, "y": 0, "width": 1500, "height": 1000})
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(PROJECT_ROOT / "docs" / "run_view.png"))
    args = parser.parse_args()
    from ui.app import build_app, launch_options

    with tempfile.TemporaryDirectory() as tmp:
        settings, gateway = processed_demo_home(Path(tmp) / "home")
        app = build_app(settings, gateway=gateway)
        port = free_port()
        app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                   **launch_options())
        try:
            shoot(f"http://127.0.0.1:{port}/", Path(args.out))
        finally:
            app.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
