"""The FastAPI application: routers under ``/api/v1``, one error shape, metrics, optional auth."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import dagster as dg
from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from api.bench_routes import add_bench_routes
from api.body_guard import BodyGuard
from api.deps import API_PREFIX, Lab
from api.docs import add_offline_docs
from api.energy_requests import add_body_schemas
from api.errors import install_error_handlers, use_problem_media_type
from api.log_redaction import redact_server_logs
from api.materialized import MaterializationRequested
from api import metrics_pipeline
from api.metrics import MetricsMiddleware
from api.models import Accepted
from api.routers import (datasets, experiments, health, operations, recommendations, runs, series, status_ws,
                         uploads)
from api.routers import iterations
from api.routers import energy, training_jobs
from api.routers import patterns, streams
from labflow.settings import Settings
from lab_assets.gateway import DagsterGateway

DESCRIPTION = """Runs, series, peaks, quality and annotations from the labflow asset graph; the confirmed
dataset for optimisers; experiments, recommendations and uploads. Data is read from the latest Dagster
materializations. Errors are `application/problem+json`. With auth on, send `Authorization: Bearer <key>`.

Run status changes are pushed on the WebSocket `/api/v1/ws/runs` as `{"run_key", "status", "at"}` with
`status` one of queued, running, failed, done, confirmed (`?run_key=K` follows only those runs)."""


def create_app(settings: Settings, *, gateway: DagsterGateway | None = None) -> FastAPI:
    """The API for ``settings``; the gateway defaults to the Dagster instance of ``DAGSTER_HOME``."""
    if gateway is None:
        gateway = DagsterGateway(dg.DagsterInstance.get(), webserver_url=settings.dagster_url)
    lab = Lab.build(settings, gateway)
    redact_server_logs()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        streams.start(app)
        yield
        streams.detach(app)
        energy.detach(app)
        lab.catalog.dispose()

    app = FastAPI(title="labflow API", version="1.0.0", description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    add_offline_docs(app)
    app.state.lab = lab
    for module in (runs, series, datasets, experiments, recommendations, uploads, status_ws, operations, health,
                   iterations, training_jobs, energy, streams, patterns):
        app.include_router(module.router)
    energy.attach(app, lab)
    streams.attach(app, lab)
    metrics_pipeline.attach(lab)
    if os.environ.get("LABFLOW_BENCH") == "1":
        add_bench_routes(app)
    install_error_handlers(app)
    app.add_exception_handler(MaterializationRequested, _accepted)
    app.add_middleware(uploads.UploadSizeLimit, max_bytes=settings.upload_max_bytes)
    app.add_middleware(BodyGuard, auth_required=settings.auth)
    app.add_middleware(MetricsMiddleware, metrics=lab.metrics)
    app.openapi = lambda: _openapi(app, settings)  # type: ignore[method-assign]
    return app


async def _accepted(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, MaterializationRequested)
    url = f"{API_PREFIX}/jobs/{error.job_id}"
    body = Accepted(detail=f"{error.detail}; poll {url}, then ask again", job_id=error.job_id, status_url=url)
    return JSONResponse(body.model_dump(), status_code=202, headers={"Location": url, "Retry-After": "2"})


def _openapi(app: FastAPI, settings: Settings) -> dict[str, Any]:
    """The schema with problem+json errors; security is declared only when auth is on."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        if not settings.auth:
            schema.get("components", {}).pop("securitySchemes", None)
            for path in schema["paths"].values():
                for operation in path.values():
                    operation.pop("security", None)
                    for code in ("401", "403"):
                        operation.get("responses", {}).pop(code, None)
        app.openapi_schema = use_problem_media_type(add_body_schemas(_enforced_limits(schema, settings)))
    return app.openapi_schema


def _enforced_limits(schema: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Declare what the middleware answers: 413 for any request body, 429 for wrong keys when auth is on."""
    problem = {"$ref": "#/components/schemas/Problem"}
    for path in schema["paths"].values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            if "requestBody" in operation:
                responses.setdefault("413", {"description": "Request body too large",
                                             "content": {"application/json": {"schema": problem}}})
            if settings.auth and operation.get("security"):
                responses.setdefault("429", {"description": "Too many wrong API keys; see Retry-After",
                                             "content": {"application/json": {"schema": problem}}})
    return schema
