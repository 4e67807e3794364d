"""The API's documentation pages render in a real browser with every request off this machine refused.

An offline lab must still read ``/docs`` (Swagger UI) and ``/redoc``: their scripts come from the API.
"""

from __future__ import annotations

import pytest

from tests.api.conftest import uvicorn_server
from tests.ui.conftest import ARTIFACTS, WAIT_MS, chromium, only_local  # noqa: F401 (fixture)

pytestmark = pytest.mark.e2e


def test_swagger_ui_and_redoc_render_without_internet(chromium, api):  # noqa: F811
    from playwright.sync_api import sync_playwright

    with uvicorn_server(api.app) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        outside = only_local(page, base)
        page.goto(f"{base}/docs")
        page.wait_for_selector(".swagger-ui .opblock-summary-path", timeout=WAIT_MS)
        swagger_paths = page.locator(".opblock-summary-path").all_inner_texts()
        swagger_title = page.locator(".swagger-ui .title").first.inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "api_docs_offline.png"))

        page.goto(f"{base}/redoc")
        page.wait_for_selector("redoc .api-content h1", timeout=WAIT_MS)
        redoc_title = page.locator("redoc .api-content h1").first.inner_text()
        redoc_text = page.locator("redoc").inner_text()
        browser.close()

    assert "labflow API" in swagger_title and "/api/v1/datasets/confirmed" in "".join(swagger_paths)
    assert "labflow API" in redoc_title and "Confirmed dataset" in redoc_text
    assert outside == [], f"the docs asked the internet for {outside}"
