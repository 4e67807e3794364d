"""Liveness (``/healthz``) and Prometheus metrics (``/metrics``): no key needed, no lab data shown."""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from api.deps import Lab, LabDep
from api.models import Health

log = logging.getLogger("labflow.api")

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Health",
            responses={503: {"model": Health, "description": "The catalog database cannot be reached"}})
def healthz(lab: LabDep, response: Response) -> Health:
    """Whether the catalog database and the Dagster instance answer."""
    catalog = _answers("catalog", lambda: _ping_catalog(lab))
    dagster = _answers("dagster", lambda: lab.gateway.instance.get_runs(limit=1))
    if not catalog:
        response.status_code = 503
    return Health(status="ok" if catalog and dagster else "degraded", catalog=catalog, dagster=dagster,
                  auth_required=lab.settings.auth, etl_mode=lab.settings.etl_mode)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
                             "description": "Prometheus text format"}})
def metrics(lab: LabDep) -> Response:
    """Request counts and latencies by route and status, and runs by status."""
    lab.metrics.refresh_runs(lab.catalog)
    return Response(generate_latest(lab.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _ping_catalog(lab: Lab) -> None:
    with lab.catalog.session() as session:
        session.execute(text("SELECT 1"))


def _answers(name: str, probe: Callable[[], object]) -> bool:
    """Whether ``probe`` runs without error (a health check reports every failure instead of raising)."""
    try:
        probe()
    except Exception:  # noqa: BLE001
        log.warning("health check: %s does not answer", name, exc_info=True)
        return False
    return True
