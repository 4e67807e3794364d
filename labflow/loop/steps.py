"""The steps of an iteration as the asset graph runs them, reading and writing through the output store.

Each step takes the iteration number, does its work with the other :mod:`labflow.loop` modules, moves
the iteration along the state machine (only forward, and only if it has not gone past: re-running an
old iteration's step never rewinds it) and returns a summary for the materialization's metadata.
The readers at the end serve the API and the app: the newest proposals for a run, the windows to
label next, every iteration's metrics.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from labflow.store.catalog import Catalog
from labflow.loop.active_learning import rank_windows
from labflow.loop.inference import confidence_range, proposals_by_run, run_inference
from labflow.loop.iterations import Iteration, IterationStore, partition_key
from labflow.loop.metrics import evaluate
from labflow.loop.model import train_model
from labflow.loop.preannotations import Proposal, proposals_of_run
from labflow.loop.runner import advance
from labflow.loop.training_set import (build_training_set, check_trainable, confirmed_intervals, new_labels,
                                       run_series, to_jsonl, windows_of_runs)
from labflow.review.store import ReviewStore
from labflow.store.outputs import MissingOutputError, OutputStore

TRAINING_SET = "training_set"
MODEL = "anomaly_model"
INFERENCE = "inference"
SCORED_WINDOWS = "inference_windows"
METRICS = "iteration_metrics"
ACTOR = "labflow loop"
METRIC_KEYS = ("event_precision", "event_recall", "event_f1", "point_precision", "point_recall", "point_f1")


def build_iteration_training_set(iterations: IterationStore, review: ReviewStore, outputs: OutputStore,
                                 number: int) -> dict[str, Any]:
    """``training_set[i]``: windows of the confirmed runs outside the held-out ones, labelled by their
    intervals (Parquet), and the same as JSONL for fine-tuning a time-series language model."""
    iteration = iterations.get(number)
    config = iteration.config
    intervals = confirmed_intervals(review)
    holdout = set(config["holdout_runs"])
    runs = sorted(run for run in intervals if run not in holdout)
    windows = windows_of_runs(outputs, runs, channel=config["channel"], window=config["window"], step=config["step"])
    training = build_training_set(windows, intervals, holdout=holdout) if runs else windows
    outputs.write_frame(TRAINING_SET, iteration.key, training)
    jsonl = outputs.write_bytes(TRAINING_SET, iteration.key, "jsonl", to_jsonl(training).encode()) if runs else None
    advance(iterations, number, "DataReady", ACTOR, note=f"training set of {training.height} windows frozen")
    anomalies = int(training["label"].sum()) if training.height else 0
    return {"windows": training.height, "anomalous_windows": anomalies, "runs": len(runs),
            "held_out_runs": len(holdout), "jsonl": str(jsonl or "")}


def train_iteration_model(iterations: IterationStore, outputs: OutputStore, number: int) -> dict[str, Any]:
    """``anomaly_model[i]``: LightGBM on the training set, or the previous model continued on the new labels."""
    iteration = iterations.get(number)
    training = outputs.read_frame(TRAINING_SET, iteration.key)
    check_trainable(training)
    previous = iterations.previous(number)
    init, used = None, training
    continuing = iteration.config["continue_from_previous"] and previous is not None
    if continuing and outputs.exists(MODEL, previous.key, "txt"):  # type: ignore[union-attr]
        init = outputs.read_bytes(MODEL, previous.key, "txt")
        before = outputs.read_frame(TRAINING_SET, previous.key) if outputs.exists(TRAINING_SET, previous.key) else None
        used = new_labels(training, before)
        if used.height == 0 or used["label"].n_unique() < 2:
            used, init = training, None  # too few new labels to continue on: train afresh
    advance(iterations, number, "Training", ACTOR)
    model = train_model(used, init_model=init, seed=number)
    outputs.write_bytes(MODEL, iteration.key, "txt", model.model)
    advance(iterations, number, "Trained", ACTOR, note=f"{model.rounds} boosting rounds on {model.windows} windows")
    return {**model.summary(), "continued_from": previous.key if init is not None and previous else "none"}


def infer_iteration(iterations: IterationStore, catalog: Catalog, outputs: OutputStore, number: int) -> dict[str, Any]:
    """``inference[i]``: the model over the selected runs (default: every processed run), scored windows
    and proposed anomaly intervals."""
    iteration = iterations.get(number)
    config = iteration.config
    advance(iterations, number, "Inferring", ACTOR)
    model = outputs.read_bytes(MODEL, iteration.key, "txt")
    runs = sorted(set(config["inference_runs"] or processed_runs(catalog)) | set(config["holdout_runs"]))
    windows = windows_of_runs(outputs, runs, channel=config["channel"], window=config["window"], step=config["step"],
                              keep_values=False)
    scored, proposals = run_inference(model, windows, threshold=float(config["threshold"])) if runs else \
        (windows, pl.DataFrame(schema={"run_key": pl.String, "start_s": pl.Float64, "end_s": pl.Float64,
                                       "confidence": pl.Float64, "windows": pl.Int64}))
    outputs.write_frame(SCORED_WINDOWS, iteration.key, scored)
    outputs.write_frame(INFERENCE, iteration.key, proposals)
    advance(iterations, number, "Reviewing", ACTOR, note=f"{proposals.height} proposals on {len(runs)} runs")
    low, high = confidence_range(proposals)
    return {"runs": len(runs), "windows": scored.height, "proposals": proposals.height,
            "confidence_min": low, "confidence_max": high}


def measure_iteration(iterations: IterationStore, review: ReviewStore, outputs: OutputStore,
                      number: int) -> dict[str, Any]:
    """``iteration_metrics[i]``: point- and event-level precision/recall/F1 on the held-out confirmed runs,
    and labels spent; recorded on the iteration, beside the previous iterations'."""
    iteration = iterations.get(number)
    holdout = iteration.config["holdout_runs"]
    truth = confirmed_intervals(review, runs=set(holdout))
    if not truth:
        raise ValueError(f"iteration {number} has no confirmed held-out runs to measure on: set its holdout_runs "
                         "to runs confirmed in the labelling app (their anomaly intervals, or none)")
    proposals = outputs.read_frame(INFERENCE, iteration.key)
    times = {run: run_series(outputs, run, iteration.config["channel"])[0] for run in truth}
    training = outputs.read_frame(TRAINING_SET, iteration.key)
    metrics = {**evaluate(proposals_by_run(proposals), truth, times), "labels_spent": training.height,
               "anomalous_labels": int(training["label"].sum()) if training.height else 0,
               "labelled_runs": training["run_key"].n_unique() if training.height else 0}
    iterations.record_metrics(number, metrics)
    outputs.write_json(METRICS, iteration.key, {"iteration": number, **metrics,
                                                "previous": metrics_table(iterations)[:-1]})
    return metrics


# -- readers for the API and the app ---------------------------------------------------------------
def processed_runs(catalog: Catalog) -> list[str]:
    """Every run whose ETL finished."""
    return [run.run_key for run in catalog.find_runs(limit=100_000, status="processed", sort="run_key")]


def metrics_table(iterations: IterationStore) -> list[dict[str, Any]]:
    """One row per iteration with metrics: number, state, precision/recall/F1 at both levels, labels spent."""
    return [{"iteration": it.number, "state": it.state, **{k: it.metrics.get(k) for k in METRIC_KEYS},
             "labels_spent": it.metrics.get("labels_spent"), "labelled_runs": it.metrics.get("labelled_runs")}
            for it in iterations.list() if it.metrics]


def newest_with(iterations: IterationStore, outputs: OutputStore, asset: str) -> Iteration | None:
    """The newest iteration that has ``asset`` materialized."""
    return next((it for it in reversed(iterations.list()) if outputs.exists(asset, it.key)), None)


def latest_proposals(iterations: IterationStore, outputs: OutputStore, run_key: str) -> list[Proposal]:
    """The run's proposed intervals from the newest iteration with an inference output."""
    iteration = newest_with(iterations, outputs, INFERENCE)
    if iteration is None:
        return []
    return proposals_of_run(outputs.read_frame(INFERENCE, iteration.key), run_key, iteration.number)


def next_windows(iterations: IterationStore, review: ReviewStore, outputs: OutputStore, *, number: int | None = None,
                 limit: int | None = None) -> pl.DataFrame:
    """The windows most useful to label next (uncertain and diverse), from the runs nobody confirmed yet.

    From the scored windows of iteration ``number`` (default: the newest that has them); ``limit``
    defaults to that iteration's ``label_budget``.
    """
    iteration = iterations.get(number) if number is not None else newest_with(iterations, outputs, SCORED_WINDOWS)
    if iteration is None or not outputs.exists(SCORED_WINDOWS, iteration.key):
        key = partition_key(number) if number is not None else "any iteration"
        raise MissingOutputError(f"inference of {key} is not materialized yet; run the iteration's inference first")
    scored = outputs.read_frame(SCORED_WINDOWS, iteration.key)
    labelled = set(confirmed_intervals(review, accepted_only=False)) | set(iteration.config["holdout_runs"])
    pool = scored.filter(~pl.col("run_key").is_in(sorted(labelled)))
    ranked = rank_windows(pool, limit or int(iteration.config["label_budget"]))
    return ranked.select("rank", "run_key", "window_id", "start_s", "end_s", "p_anomaly", "uncertainty") \
        .with_columns(pl.lit(iteration.number).alias("iteration"))
