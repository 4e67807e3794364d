"""The API's documentation pages (Swagger UI at ``/docs``, ReDoc at ``/redoc``), served without internet.

FastAPI's own pages load their scripts from a CDN, which leaves an offline lab with a blank page. The
scripts and styles here come from the ``fastapi-offline`` package (MIT; it bundles Swagger UI, Apache-2.0,
and ReDoc, MIT) and are served by the API itself under ``/docs-assets``. ReDoc's script is served with its
one outside address (the Redocly logo in the menu's footer) pointed at the local favicon, so the pages make
no request off this machine.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/docs-assets"
ASSETS_DIR = files("fastapi_offline") / "static"
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
REDOC_JS = f"{ASSETS_URL}/redoc.offline.js"


def add_offline_docs(app: FastAPI) -> None:
    """Serve ``/docs`` and ``/redoc`` from local assets; ``app`` must be made with ``docs_url=None, redoc_url=None``."""
    @app.get(REDOC_JS, include_in_schema=False)
    async def redoc_script() -> Response:
        return Response(_redoc_script(), media_type="text/javascript",
                        headers={"Cache-Control": "public, max-age=86400"})

    app.mount(ASSETS_URL, StaticFiles(directory=str(ASSETS_DIR)), name="docs-assets")
    openapi_url = str(app.openapi_url)
    oauth2_redirect_url = str(app.swagger_ui_oauth2_redirect_url)

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=openapi_url, title=f"{app.title} — Swagger UI",
                                   oauth2_redirect_url=oauth2_redirect_url,
                                   swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
                                   swagger_favicon_url=f"{ASSETS_URL}/favicon.png")

    @app.get(oauth2_redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url=openapi_url, title=f"{app.title} — ReDoc",
                              redoc_js_url=REDOC_JS,
                              redoc_favicon_url=f"{ASSETS_URL}/favicon.png", with_google_fonts=False)


@cache
def _redoc_script() -> bytes:
    """ReDoc's bundle with the Redocly logo read from this server (read once)."""
    script = (ASSETS_DIR / "redoc.standalone.js").read_bytes()
    return script.replace(REDOC_LOGO.encode(), f"{ASSETS_URL}/favicon.png".encode())
