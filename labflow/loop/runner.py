"""One whole iteration of the loop in this process, through the state machine: the benchmark and tests
drive the loop with it (the asset graph runs the same steps as separate assets).

:func:`advance` moves an iteration along the forward path as far as a target state; each step is a
legal, recorded transition, so the iteration's history reads the same however it was driven.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from labflow.loop.inference import proposals_by_run, run_inference
from labflow.loop.iterations import STATES, TRANSITIONS, Iteration, IterationStore
from labflow.loop.metrics import evaluate
from labflow.loop.model import TrainedModel, train_model
from labflow.loop.training_set import Intervals, build_training_set, new_labels

FORWARD = ("Created", "Annotating", "DataReady", "Training", "Trained", "Inferring", "Reviewing", "Completed")


def advance(store: IterationStore, number: int, target: str, actor: str, *, note: str = "") -> Iteration:
    """Move iteration ``number`` forward through each state up to ``target`` (no-op once there or past)."""
    iteration = store.get(number)
    if target not in STATES:
        raise ValueError(f"unknown state {target!r}; the states are {', '.join(STATES)}")
    while FORWARD.index(iteration.state) < FORWARD.index(target):
        step = FORWARD[FORWARD.index(iteration.state) + 1]
        assert step in TRANSITIONS[iteration.state]
        iteration = store.transition(number, step, actor, note=note)
    return iteration


@dataclass(frozen=True)
class IterationResult:
    """What one iteration produced: its training set, model, scored windows, proposals and metrics."""

    iteration: Iteration
    training_set: pl.DataFrame
    model: TrainedModel
    scored: pl.DataFrame
    proposals: pl.DataFrame
    metrics: dict[str, float | int]


def run_iteration(store: IterationStore, actor: str, *, windows: pl.DataFrame, labels: Mapping[str, Intervals],
                  labelled_ids: Collection[str] | None, holdout: Mapping[str, Intervals],
                  times: Mapping[str, np.ndarray] | None = None, previous: IterationResult | None = None,
                  continue_from_previous: bool = False, threshold: float = 0.5, seed: int = 0) -> IterationResult:
    """Create an iteration and take it from Created to Completed: build the training set from ``labels``
    (only ``labelled_ids`` windows when given), train (or continue the previous model on the new labels),
    score every window, propose intervals, and measure them on the ``holdout`` runs."""
    iteration = store.create(actor, config={"holdout_runs": sorted(holdout),
                                            "continue_from_previous": continue_from_previous,
                                            "threshold": threshold})
    number = iteration.number
    advance(store, number, "DataReady", actor, note="labels given")
    training = build_training_set(windows, labels, holdout=set(holdout), labelled_ids=labelled_ids)
    advance(store, number, "Training", actor)
    if continue_from_previous and previous is not None:
        model = train_model(new_labels(training, previous.training_set), init_model=previous.model.model, seed=seed)
    else:
        model = train_model(training, seed=seed)
    advance(store, number, "Inferring", actor)
    scored, proposals = run_inference(model.model, windows, threshold=threshold)
    metrics = evaluate(proposals_by_run(proposals), holdout, times)
    metrics = {**metrics, "labels_spent": training.height, "anomalous_labels": int(training["label"].sum()),
               "labelled_runs": training["run_key"].n_unique()}
    store.record_metrics(number, metrics)
    iteration = advance(store, number, "Completed", actor, note=f"event F1 {metrics['event_f1']:.3f}")
    return IterationResult(iteration, training, model, scored, proposals, metrics)
