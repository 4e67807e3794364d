"""Prometheus metrics of one app (its own registry, so several apps can live in one process)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from labflow.store.catalog import REVIEW_STATUSES, RUN_STATUSES, Catalog


class ApiMetrics:
    """Request counts and latencies by route template and status; runs by status."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("labflow_api_requests", "HTTP requests answered",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("labflow_api_request_seconds", "Time to answer a request",
                                 ["method", "route"], registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.runs = Gauge("labflow_runs", "Runs in the catalog by processing status", ["status"],
                          registry=self.registry)
        self.reviews = Gauge("labflow_runs_review", "Runs in the catalog by review status", ["review_status"],
                             registry=self.registry)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def refresh_runs(self, catalog: Catalog) -> None:
        """Count runs by status now (called when metrics are scraped)."""
        for status in RUN_STATUSES:
            self.runs.labels(status).set(catalog.count_runs(status=status))
        for review in REVIEW_STATUSES:
            self.reviews.labels(review).set(catalog.count_runs(review_status=review))


class MetricsMiddleware:
    """Pure ASGI middleware timing every HTTP request under its route template (``/api/v1/runs/{run_key}``)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.observe(scope["method"], route, status, time.perf_counter() - start)
