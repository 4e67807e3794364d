"""Dependencies: the lab (settings, catalog, review store, keys, experiments, Dagster gateway, reader),
built once per app, and the run named in the path. The current API key is :mod:`api.auth`'s."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request

from api.materialized import MaterializedReader
from api.metrics import ApiMetrics
from api.models import RunKey
from labflow.apikeys import KeyStore
from labflow.store.catalog import Catalog, RunNotFound, RunRecord
from labflow.experiments import ExperimentStore
from labflow.review.store import ReviewStore
from labflow.settings import Settings
from lab_assets.gateway import DagsterGateway

API_PREFIX = "/api/v1"


@dataclass
class Lab:
    """Everything a request may need, shared by the app's requests."""

    settings: Settings
    catalog: Catalog
    reviews: ReviewStore
    keys: KeyStore
    experiments: ExperimentStore
    gateway: DagsterGateway
    reader: MaterializedReader
    metrics: ApiMetrics

    @classmethod
    def build(cls, settings: Settings, gateway: DagsterGateway) -> "Lab":
        catalog = Catalog(settings.database_url)
        keys = KeyStore(catalog, recheck_s=settings.key_recheck_s)
        return cls(settings, catalog, ReviewStore(catalog), keys, ExperimentStore(catalog), gateway,
                   MaterializedReader(settings, gateway), ApiMetrics())


async def get_lab(request: Request) -> Lab:
    """The app's :class:`Lab` (``async``: FastAPI runs it on the event loop, not in a worker thread)."""
    return request.app.state.lab


LabDep = Annotated[Lab, Depends(get_lab)]


RUN_KEY_HELP = "The run's key, e.g. run_003-3fa9c1d2e4."


def get_run(lab: LabDep, run_key: Annotated[RunKey, Path(description=RUN_KEY_HELP)]) -> RunRecord:
    """The run named in the path, or 404."""
    run = lab.catalog.get_run(run_key)
    if run is None:
        raise RunNotFound(run_key)
    return run


RunDep = Annotated[RunRecord, Depends(get_run)]
