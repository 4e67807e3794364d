"""Endpoints only the benchmarks use (``LABFLOW_BENCH=1``), outside the schema: side-by-side baselines.

``GET /_baseline`` answers ``{"ok": true}`` and nothing else. ``POST /_baseline/body`` reads the request
body and drops it: the cost of carrying a body, without the work. ``POST /_baseline/parse`` reads a
``/predict`` body as ``/predict`` does (into arrays, checked) and drops it: the cost of the request's
shape, without the model. ``GET /_baseline/cpu?us=N`` spends ``N`` µs of CPU first: what ``N`` µs more
per request costs at a given load.
"""

from __future__ import annotations

import time

from fastapi import FastAPI, Query, Request

from api.deps import API_PREFIX
from api.energy_requests import read_predict_body


def add_bench_routes(app: FastAPI) -> None:
    """Add the baseline endpoints (call only when benchmarking)."""
    app.add_api_route(f"{API_PREFIX}/_baseline", _baseline, include_in_schema=False)
    app.add_api_route(f"{API_PREFIX}/_baseline/body", _body_dropped, methods=["POST"], include_in_schema=False)
    app.add_api_route(f"{API_PREFIX}/_baseline/parse", _body_parsed, methods=["POST"], include_in_schema=False)
    app.add_api_route(f"{API_PREFIX}/_baseline/cpu", _cpu_spent, include_in_schema=False)


async def _baseline() -> dict[str, bool]:
    """A bare answer."""
    return {"ok": True}


async def _body_dropped(request: Request) -> dict[str, bool]:
    await request.body()
    return {"ok": True}


async def _body_parsed(request: Request) -> dict[str, bool]:
    read_predict_body(await request.body())
    return {"ok": True}


async def _cpu_spent(us: int = Query(ge=0, le=1_000_000)) -> dict[str, bool]:
    until = time.thread_time() + us / 1e6
    while time.thread_time() < until:
        pass
    return {"ok": True}
