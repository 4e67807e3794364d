"""Experiments: registered before they are measured; arriving files are linked to them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response

from api.auth import read_key, write_key
from api.deps import API_PREFIX, Lab, LabDep
from api.errors import ApiProblem, problems
from api.models import ExperimentIn, ExperimentOut, ExperimentRun, Identifier
from labflow.experiments import Experiment

router = APIRouter(prefix=API_PREFIX, tags=["experiments"], responses=problems(400, 401, 403, 422))


@router.post("/experiments", response_model=ExperimentOut, status_code=201, summary="Register an experiment",
             dependencies=[Depends(write_key)],
             responses={200: {"model": ExperimentOut, "description": "Already registered exactly like this"},
                        **problems(409)})
def register_experiment(body: ExperimentIn, lab: LabDep, response: Response) -> ExperimentOut:
    """Register an experiment with its inputs and campaign, and how its files will be recognised.

    Files are linked to it when their sidecar (or a header line) names its ``experiment_id``, or,
    without one, when their file name matches ``file_pattern``.
    """
    experiment, created = lab.experiments.register(body.experiment_id, campaign=body.campaign, inputs=body.inputs,
                                                   file_pattern=body.file_pattern)
    if not created:
        response.status_code = 200
    response.headers["Location"] = f"{API_PREFIX}/experiments/{experiment.experiment_id}"
    return _out(lab, experiment)


@router.get("/experiments", response_model=list[ExperimentOut], summary="List experiments",
            dependencies=[Depends(read_key)])
def list_experiments(lab: LabDep, campaign: Annotated[Identifier | None, Query()] = None) -> list[ExperimentOut]:
    """Registered experiments (of one campaign), oldest first, with their runs."""
    return [_out(lab, e) for e in lab.experiments.list(campaign)]


@router.get("/experiments/{experiment_id}", response_model=ExperimentOut, summary="One experiment",
            dependencies=[Depends(read_key)], responses=problems(404))
def get_experiment(experiment_id: Annotated[Identifier, Path()], lab: LabDep) -> ExperimentOut:
    """An experiment and the runs linked to it."""
    experiment = lab.experiments.get(experiment_id)
    if experiment is None:
        raise ApiProblem(404, f"no experiment {experiment_id!r} is registered")
    return _out(lab, experiment)


def _out(lab: Lab, experiment: Experiment) -> ExperimentOut:
    runs: list[Any] = [lab.catalog.get_run(key) for key in lab.experiments.runs_of(experiment.experiment_id)]
    return ExperimentOut(
        experiment_id=experiment.experiment_id, campaign=experiment.campaign, inputs=experiment.inputs,
        file_pattern=experiment.file_pattern, created_at=experiment.created_at,
        runs=[ExperimentRun(run_key=r.run_key, status=r.status, review_status=r.review_status) for r in runs if r])
