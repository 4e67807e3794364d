"""Energy forecasting per asset: predict, detect anomalies, and the model versions (compare, activate, roll back).

The active model of every asset is preloaded when the app starts and swapped in when the active
version changes (here or in a training run), see :class:`labflow.forecasting.serving.ModelCache`.
"""

from __future__ import annotations

from typing import Annotated

import anyio
import numpy as np
import orjson
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, Response
from pydantic import Field

from api.auth import read_key, write_key
from api.deps import API_PREFIX, Lab
from api.energy_models import (AnomalyOut, AssetId, AssetModelsOut, CompareOut, DetectIn, DetectOut,
                               ModelVersionOut, PredictIn, PredictOut)
from api.energy_requests import json_body, read_detect_body, read_predict_body
from api.errors import ApiProblem, problems
from labflow.apikeys import ApiKey
from labflow.forecasting.model import ForecastRequestError
from labflow.forecasting.readings import Readings
from labflow.forecasting.registry import ModelVersion, RegistryError, UnknownAsset, UnknownVersion
from labflow.forecasting.serving import ForecastService, NoActiveModel, ServedModel, detect, predict
from labflow.store.outputs import open_output_store

router = APIRouter(prefix=API_PREFIX, tags=["forecasting"], responses=problems(400, 401, 403, 404, 422))
AssetPath = Annotated[AssetId, Path(description="The asset's id, e.g. line-3.")]
COMPARED = ("mae", "naive_mae", "mae_ratio_vs_naive", "mape_pct", "naive_mape_pct", "interval_coverage",
            "interval_nominal", "interval_mean_width", "points")


def attach(app: FastAPI, lab: Lab) -> ForecastService:
    """Create the app's forecast service and start preloading the active models."""
    settings = lab.settings
    service = ForecastService(lab.catalog, open_output_store(settings),
                              compiled_trees_dir=settings.compiled_trees_dir if settings.forecast_compiled_trees else None)
    service.cache.start()
    app.state.forecasts = service
    return service


def detach(app: FastAPI) -> None:
    service = getattr(app.state, "forecasts", None)
    if service is not None:
        service.cache.stop()


async def _forecasts(request: Request) -> ForecastService:
    """The app's forecast service (``async``: resolved on the event loop, no worker thread)."""
    return request.app.state.forecasts


Forecasts = Annotated[ForecastService, Depends(_forecasts)]


def _served(service: ForecastService, asset_id: str) -> ServedModel:
    try:
        return service.served(asset_id)
    except UnknownAsset as error:
        raise ApiProblem(404, str(error)) from None
    except NoActiveModel as error:
        raise ApiProblem(409, str(error)) from None


@router.post("/assets/{asset_id}/predict", response_model=PredictOut, summary="Forecast an asset's consumption",
             dependencies=[Depends(read_key)], responses=problems(409), openapi_extra=json_body(PredictIn))
async def predict_consumption(asset_id: AssetPath, request: Request, service: Forecasts) -> Response:
    """Forecast ``forecast_horizon`` steps after the last reading, with the prediction interval, using the
    asset's active model. Needs at least a week of readings on the model's grid. The body is a
    ``PredictIn``.

    Computed on the event loop (well under a millisecond: the body read into arrays, one batched call
    per model's compiled trees); only a model that is not in memory yet is looked up in a worker thread.
    """
    try:
        body = read_predict_body(await request.body())
        served = service.cache.peek(asset_id) or await anyio.to_thread.run_sync(_served, service, asset_id)
        forecast = predict(served, body.history, body.horizon, future=body.future)
    except ForecastRequestError as error:
        raise ApiProblem(422, str(error)) from None
    rows = zip(forecast.timestamps, forecast.predicted.tolist(), forecast.lower.tolist(), forecast.upper.tolist())
    return Response(orjson.dumps({  # the PredictOut shape, written directly: no second validation of our numbers
        "asset_id": asset_id, "model_version": served.version, "interval": served.model.params.interval,
        "forecast_data": [{"timestamp": t, "predicted": p, "lower": lo, "upper": hi}  # orjson writes ISO 8601
                          for t, p, lo, hi in rows]}), media_type="application/json")


@router.post("/assets/{asset_id}/detect_anomalies", response_model=DetectOut, summary="Flag unusual readings",
             dependencies=[Depends(read_key)], responses=problems(409), openapi_extra=json_body(DetectIn))
async def detect_anomalies(asset_id: AssetPath, request: Request, service: Forecasts) -> DetectOut:
    """Check each reading that has a week of history before it against the interval the active model
    predicts for it a day (at most its horizon) earlier; readings outside come back with a reason.
    The body is a ``DetectIn``."""
    try:
        readings = read_detect_body(await request.body())
    except ForecastRequestError as error:
        raise ApiProblem(422, str(error)) from None
    return await anyio.to_thread.run_sync(_detect, service, asset_id, readings)


def _detect(service: ForecastService, asset_id: str, readings: Readings) -> DetectOut:
    served = _served(service, asset_id)
    try:
        found = detect(served, readings)
    except ForecastRequestError as error:
        raise ApiProblem(422, str(error)) from None
    return DetectOut(asset_id=asset_id, model_version=served.version, checked=found.checked,
                     first_checked=found.first_checked,
                     anomalies=[AnomalyOut(timestamp=a.timestamp, value=a.value, predicted=a.predicted, lower=a.lower,
                                           upper=a.upper, direction=a.direction,  # type: ignore[arg-type]
                                           excess=a.excess if np.isfinite(a.excess) else 1e9, reason=a.reason)
                                for a in found.anomalies])


@router.get("/assets", response_model=list[AssetModelsOut], summary="Assets with forecast models",
            dependencies=[Depends(read_key)])
def list_assets(service: Forecasts) -> list[AssetModelsOut]:
    """Every asset with at least one model version: how many, the newest, the active one and how this
    API serves it (``compiled`` trees, ``lightgbm`` while compiling or if it cannot, ``null`` if not loaded)."""
    return [AssetModelsOut(asset_id=a.asset_id, versions=a.versions, latest=a.latest, active=a.active,
                           serving=service.cache.serving(a.asset_id))
            for a in service.registry.assets()]


@router.get("/assets/{asset_id}/models", response_model=list[ModelVersionOut], summary="An asset's model versions",
            dependencies=[Depends(read_key)])
def list_versions(asset_id: AssetPath, service: Forecasts) -> list[ModelVersionOut]:
    """Every version, newest first, with its backtest metrics, data hash and parameters."""
    try:
        return [_version_out(v) for v in service.registry.versions(asset_id)]
    except UnknownAsset as error:
        raise ApiProblem(404, str(error)) from None


@router.get("/assets/{asset_id}/models/compare", response_model=CompareOut, summary="Compare model versions",
            dependencies=[Depends(read_key)])
def compare_versions(asset_id: AssetPath, service: Forecasts,
                     versions: Annotated[list[Annotated[int, Field(ge=1, le=1_000_000)]] | None,
                                       Query(description="Versions to compare (default all).")]
                     = None) -> CompareOut:
    """The backtest metrics of the versions side by side."""
    try:
        chosen = service.registry.compare(asset_id, versions)
    except (UnknownAsset, UnknownVersion) as error:
        raise ApiProblem(404, str(error)) from None
    rows = [{"version": v.version, "active": v.active, **{m: v.metrics.get(m) for m in COMPARED}} for v in chosen]
    return CompareOut(asset_id=asset_id, metrics=list(COMPARED), rows=rows)


@router.post("/assets/{asset_id}/models/{version}/activate", response_model=ModelVersionOut,
             summary="Activate a model version", responses=problems(409))
def activate_version(asset_id: AssetPath, version: Annotated[int, Path(ge=1, le=1_000_000)], service: Forecasts,
                     key: Annotated[ApiKey | None, Depends(write_key)]) -> ModelVersionOut:
    """Make ``version`` the asset's active model; predictions use it as soon as this answers."""
    try:
        activated = service.registry.activate(asset_id, version, by=_who(key))
    except (UnknownAsset, UnknownVersion) as error:
        raise ApiProblem(404, str(error)) from None
    service.cache.refresh()
    return _version_out(activated)


@router.post("/assets/{asset_id}/models/rollback", response_model=ModelVersionOut,
             summary="Return to the previously active version", responses=problems(409))
def rollback_version(asset_id: AssetPath, service: Forecasts,
                     key: Annotated[ApiKey | None, Depends(write_key)]) -> ModelVersionOut:
    """Activate the version that was active before the current one."""
    try:
        activated = service.registry.rollback(asset_id, by=_who(key))
    except UnknownAsset as error:
        raise ApiProblem(404, str(error)) from None
    except RegistryError as error:
        raise ApiProblem(409, str(error)) from None
    service.cache.refresh()
    return _version_out(activated)


def _who(key: ApiKey | None) -> str:
    return f"key {key.name}" if key is not None else "api"


def _version_out(version: ModelVersion) -> ModelVersionOut:
    return ModelVersionOut(asset_id=version.asset_id, version=version.version, active=version.active,
                           created_at=version.created_at, run_id=version.run_id, data_hash=version.data_hash,
                           data_url=version.data_url, params=version.params,
                           metrics={k: v for k, v in version.metrics.items()
                                    if not (isinstance(v, float) and not np.isfinite(v))})
