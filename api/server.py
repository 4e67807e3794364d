"""Serving the API with uvicorn (``labflow api``; also started by ``labflow dev``)."""

from __future__ import annotations

import os

import uvicorn

from api.app import create_app
from labflow.devserver import prepare_dagster_home
from labflow.settings import Settings


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the API on ``host:port`` until interrupted, on the Dagster instance of this data directory.

    ``DAGSTER_HOME`` is taken from the environment (set by ``labflow dev``), else the data directory's.
    """
    if "DAGSTER_HOME" not in os.environ:
        os.environ["DAGSTER_HOME"] = str(prepare_dagster_home(settings))
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info", proxy_headers=False)
