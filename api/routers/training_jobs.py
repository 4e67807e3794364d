"""Training jobs: train an asset's forecast model from a CSV at a URL, as one Dagster run."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Path, Response

from api.auth import read_key, write_key
from api.deps import API_PREFIX, Lab, LabDep
from api.energy_models import TrainingJobIn, TrainingJobOut
from api.errors import ApiProblem, problems
from lab_assets.forecasting import TrainingBusy, launch_training, training_job
from labflow.forecasting.fetch import FetchError, check_data_url, data_sources
from labflow.forecasting.model import ForecastParams

router = APIRouter(prefix=API_PREFIX, tags=["forecasting"], responses=problems(400, 401, 403, 422))


@router.post("/training-jobs", response_model=TrainingJobOut, status_code=202, summary="Train a forecast model",
             dependencies=[Depends(write_key)], responses=problems(409))
def start_training(body: TrainingJobIn, lab: LabDep, response: Response) -> TrainingJobOut:
    """Start a Dagster run that fetches the CSV, checks it, trains, backtests and (if it is not worse than
    the active model) activates a new model version of the asset. Answers at once with the job id;
    poll ``GET /api/v1/training-jobs/{job_id}``."""
    try:
        check_data_url(body.data_url, data_sources(lab.settings))
    except FetchError as error:
        raise ApiProblem(422, str(error)) from None
    params = ForecastParams(horizon=body.horizon, interval=body.interval, n_estimators=body.n_estimators)
    try:
        job_id = launch_training(lab.gateway, body.asset_id, body.data_url, params=params,
                                 tolerance=lab.settings.forecast_tolerance)
    except TrainingBusy as error:
        raise ApiProblem(409, f"{error} (GET {API_PREFIX}/training-jobs/{error.run_id})") from None
    job = _job(lab, job_id, asset_id=body.asset_id)
    response.headers["Location"] = job.status_url
    return job


@router.get("/training-jobs/{job_id}", response_model=TrainingJobOut, summary="A training job's state",
            dependencies=[Depends(read_key)], responses=problems(404))
async def get_training_job(job_id: Annotated[str, Path(max_length=64, pattern=r"^[0-9a-f-]{8,64}$")],
                           lab: LabDep) -> TrainingJobOut:
    """queued, running, succeeded or failed (with the error), and a link to the run in the Dagster UI."""
    return await anyio.to_thread.run_sync(_job, lab, job_id)


def _job(lab: Lab, job_id: str, *, asset_id: str | None = None) -> TrainingJobOut:
    """The job's state; ``asset_id`` is given right after launching, when the run may not be recorded yet."""
    job = training_job(lab.gateway, job_id)
    if job is None and asset_id is None:
        raise ApiProblem(404, f"there is no training job {job_id!r}")
    return TrainingJobOut(job_id=job_id, asset_id=job.asset_id if job else asset_id, state=job.state if job else
                          "queued", error=job.error if job else None, status_url=f"{API_PREFIX}/training-jobs/{job_id}",
                          dagster_run_url=f"{lab.settings.dagster_url}/runs/{job_id}")
