"""Serving the API with uvicorn (``labflow api``; also started by ``labflow dev``)."""

from __future__ import annotations

import gc
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
    app = create_app(settings)
    # Everything imported so far (Dagster, LightGBM, …) lives as long as the process: keep the garbage
    # collector off it, and let it run less often (requests allocate a lot of short-lived objects, which
    # reference counting frees anyway). Measured: /predict p99 at 16 clients 290 → 85 ms, baseline 55 → 30 ms.
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 50)
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=False)
