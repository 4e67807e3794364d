"""Iterations of the labelling loop: create, list, read, move through the state machine, run, measure."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from api.auth import read_key, write_key
from api.deps import API_PREFIX, Lab, LabDep
from api.errors import ApiProblem, problems
from api.loop_models import (IterationIn, IterationMetricsRow, IterationOut, IterationRunOut, TransitionIn,
                             TransitionOut, WindowToLabel)
from lab_assets.partitions import ITERATIONS_PARTITION
from labflow.loop.iterations import IllegalTransition, Iteration, IterationNotFound, IterationStore
from labflow.loop.steps import INFERENCE, METRICS, MODEL, TRAINING_SET, metrics_table, next_windows
from labflow.store.outputs import MissingOutputError, open_output_store

LOOP_ASSETS = [TRAINING_SET, MODEL, INFERENCE, METRICS]

router = APIRouter(prefix=API_PREFIX, tags=["iterations"], responses=problems(400, 401, 403, 422))
MAX_NUMBER = 2**31 - 1  # what every catalog database stores as an integer
Number = Annotated[int, Path(ge=1, le=MAX_NUMBER, description="The iteration's number.")]


def _store(lab: Lab) -> IterationStore:
    return IterationStore(lab.catalog)


@router.post("/iterations", response_model=IterationOut, status_code=201, summary="Create an iteration",
             dependencies=[Depends(write_key)])
def create_iteration(body: IterationIn, lab: LabDep, response: Response) -> IterationOut:
    """A new iteration in state Created, and its partition in the asset graph."""
    try:
        iteration = _store(lab).create(body.actor, config=body.config, note=body.note)
    except ValueError as error:
        raise ApiProblem(400, str(error)) from None
    lab.gateway.instance.add_dynamic_partitions(ITERATIONS_PARTITION, [iteration.key])
    response.headers["Location"] = f"{API_PREFIX}/iterations/{iteration.number}"
    return _out(iteration)


@router.get("/iterations", response_model=list[IterationOut], summary="List iterations",
            dependencies=[Depends(read_key)])
def list_iterations(lab: LabDep) -> list[IterationOut]:
    """Every iteration, oldest first (history left out: read one iteration for it)."""
    return [_out(it) for it in _store(lab).list()]


@router.get("/iterations/metrics", response_model=list[IterationMetricsRow], summary="Metrics across iterations",
            dependencies=[Depends(read_key)])
def iteration_metrics(lab: LabDep) -> list[IterationMetricsRow]:
    """Precision, recall and F1 (point and event level) and labels spent of every measured iteration."""
    return [IterationMetricsRow(**row) for row in metrics_table(_store(lab))]


@router.get("/iterations/next-windows", response_model=list[WindowToLabel], summary="Windows to label next",
            dependencies=[Depends(read_key)], responses=problems(404))
def windows_to_label(lab: LabDep, limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
                     iteration: Annotated[int | None, Query(ge=1, le=MAX_NUMBER)] = None) -> list[WindowToLabel]:
    """The unlabelled windows most useful to label next (uncertain, diverse), best first."""
    try:
        frame = next_windows(_store(lab), lab.reviews, open_output_store(lab.settings), number=iteration, limit=limit)
    except (IterationNotFound, MissingOutputError) as error:
        raise ApiProblem(404, str(error)) from None
    return [WindowToLabel(**row) for row in frame.to_dicts()]


@router.get("/iterations/{number}", response_model=IterationOut, summary="One iteration",
            dependencies=[Depends(read_key)], responses=problems(404))
def get_iteration(number: Number, lab: LabDep) -> IterationOut:
    """The iteration with its transition history."""
    return _out(_get(lab, number))


@router.post("/iterations/{number}/transitions", response_model=IterationOut, summary="Move an iteration",
             dependencies=[Depends(write_key)], responses=problems(404, 409))
def transition_iteration(number: Number, body: TransitionIn, lab: LabDep) -> IterationOut:
    """Move the iteration to another state; an illegal move is refused (409) naming the allowed ones."""
    _get(lab, number)
    try:
        return _out(_store(lab).transition(number, body.to, body.actor, note=body.note))
    except IllegalTransition as error:
        raise ApiProblem(409, str(error)) from None


@router.post("/iterations/{number}/run", response_model=IterationRunOut, status_code=202,
             summary="Run an iteration's assets", dependencies=[Depends(write_key)], responses=problems(404))
def run_iteration(number: Number, lab: LabDep) -> IterationRunOut:
    """Ask Dagster to materialize training_set → anomaly_model → inference → iteration_metrics for it."""
    iteration = _get(lab, number)
    lab.gateway.instance.add_dynamic_partitions(ITERATIONS_PARTITION, [iteration.key])
    run_id = lab.gateway.request(LOOP_ASSETS, iteration.key, tags={"labflow/iteration": str(number)})
    return IterationRunOut(run_id=run_id, partition=iteration.key, assets=LOOP_ASSETS)


def _get(lab: Lab, number: int) -> Iteration:
    try:
        return _store(lab).get(number)
    except IterationNotFound as error:
        raise ApiProblem(404, str(error)) from None


def _out(iteration: Iteration) -> IterationOut:
    return IterationOut(
        number=iteration.number, key=iteration.key, state=iteration.state, allowed=list(iteration.allowed),
        created_by=iteration.created_by, created_at=iteration.created_at, updated_at=iteration.updated_at,
        config=iteration.config, metrics=iteration.metrics,
        history=[TransitionOut(from_state=t.from_state, to_state=t.to_state, actor=t.actor, at=t.at, note=t.note)
                 for t in iteration.history])
