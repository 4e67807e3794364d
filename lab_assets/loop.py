"""Loop assets, partitioned by iteration: training_set → anomaly_model → inference → iteration_metrics.

Thin: each calls one step of :mod:`labflow.loop.steps`, which also moves the iteration along its
state machine. Partitions (``iteration-<n>``) are added when an iteration is created (API, app or the
loop sensor); iterations are independent partitions, so Dagster may run several at once.
"""

import dagster as dg

from lab_assets.partitions import iterations_partitions
from labflow.loop.iterations import IterationStore, iteration_number
from labflow.loop.steps import (INFERENCE, METRICS, MODEL, TRAINING_SET, build_iteration_training_set,
                                infer_iteration, measure_iteration, train_iteration_model)
from labflow.loop.training_set import TrainingSetError
from labflow.review.store import ReviewStore
from labflow.store.outputs import MissingOutputError, open_output_store
from resources import CatalogResource, LabStorageResource

LOOP_GROUP = "loop"
_EXPECTED = (LookupError, ValueError, MissingOutputError, TrainingSetError)


def _metadata(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if isinstance(v, (int, float, str, bool))}


# Every run's annotation feeds every iteration's training set (lineage only: the body reads the catalog).
ALL_ANNOTATIONS = dg.AssetDep("annotations", partition_mapping=dg.AllPartitionMapping())


@dg.asset(name=TRAINING_SET, partitions_def=iterations_partitions, deps=[ALL_ANNOTATIONS],
          group_name=LOOP_GROUP,
          kinds={"parquet", "json"},
          description="Windows (features, values) of the confirmed runs outside the held-out set, labelled by "
          "their anomaly intervals; also JSONL (instruction/input/output) for fine-tuning a time-series LM.")
def training_set(context: dg.AssetExecutionContext, catalog: CatalogResource,
                 lab: LabStorageResource) -> dg.MaterializeResult:
    store = catalog.get_catalog()
    try:
        summary = build_iteration_training_set(IterationStore(store), ReviewStore(store),
                                               open_output_store(lab.settings()),
                                               iteration_number(context.partition_key))
    except _EXPECTED as error:
        raise dg.Failure(description=str(error)) from None
    return dg.MaterializeResult(metadata=_metadata(summary))


@dg.asset(name=MODEL, partitions_def=iterations_partitions, deps=[TRAINING_SET], group_name=LOOP_GROUP,
          kinds={"lightgbm"},
          description="LightGBM on window features (anomalous vs normal); optionally the previous iteration's "
          "model continued on the new labels only.")
def anomaly_model(context: dg.AssetExecutionContext, catalog: CatalogResource,
                  lab: LabStorageResource) -> dg.MaterializeResult:
    try:
        summary = train_iteration_model(IterationStore(catalog.get_catalog()), open_output_store(lab.settings()),
                                        iteration_number(context.partition_key))
    except _EXPECTED as error:
        raise dg.Failure(description=str(error)) from None
    return dg.MaterializeResult(metadata=_metadata(summary))


@dg.asset(name=INFERENCE, partitions_def=iterations_partitions, deps=[MODEL], group_name=LOOP_GROUP,
          kinds={"parquet"},
          description="Batch inference over the selected runs: every window's anomaly probability and the "
          "proposed anomaly intervals with their confidence (shown as pre-annotations in the app).")
def inference(context: dg.AssetExecutionContext, catalog: CatalogResource,
              lab: LabStorageResource) -> dg.MaterializeResult:
    store = catalog.get_catalog()
    try:
        summary = infer_iteration(IterationStore(store), store, open_output_store(lab.settings()),
                                  iteration_number(context.partition_key))
    except _EXPECTED as error:
        raise dg.Failure(description=str(error)) from None
    return dg.MaterializeResult(metadata=_metadata(summary))


@dg.asset(name=METRICS, partitions_def=iterations_partitions, deps=[INFERENCE], group_name=LOOP_GROUP,
          kinds={"json"},
          description="Precision, recall and F1 at point and event level on the held-out confirmed runs, and "
          "labels spent, beside the previous iterations'.")
def iteration_metrics(context: dg.AssetExecutionContext, catalog: CatalogResource,
                      lab: LabStorageResource) -> dg.MaterializeResult:
    store = catalog.get_catalog()
    iterations = IterationStore(store)
    try:
        metrics = measure_iteration(iterations, ReviewStore(store), open_output_store(lab.settings()),
                                    iteration_number(context.partition_key))
    except _EXPECTED as error:
        raise dg.Failure(description=str(error)) from None
    rows = [f"| {it.number} | {it.metrics.get('event_f1', 0):.3f} | {it.metrics.get('point_f1', 0):.3f} | "
            f"{it.metrics.get('labels_spent', 0)} |" for it in iterations.list() if it.metrics]
    table = "| iteration | event F1 | point F1 | labels |\n|---|---|---|---|\n" + "\n".join(rows)
    return dg.MaterializeResult(metadata={**_metadata(metrics), "iterations": dg.MetadataValue.md(table)})


LOOP_ASSETS = [training_set, anomaly_model, inference, iteration_metrics]
