"""Review assets: a run's confirmed annotation, and the confirmed dataset built from all of them.

``annotations[run]`` is materialized by the confirmations sensor whenever a person confirms (or
rejects) a run in the labelling app; ``confirmed_dataset`` follows automatically (declarative
automation, eager) whenever any run's annotation changes. Both only call :mod:`labflow.review.confirmed`.
"""

import dagster as dg

from lab_assets.partitions import runs_partitions
from labflow.review.confirmed import (ANNOTATIONS_ASSET, DATASET_ASSET, annotate_run, build_confirmed_dataset,
                               read_annotation_outputs, write_dataset)
from labflow.processing.pipeline import RunProcessor
from labflow.ops.report import frame_to_markdown
from labflow.review.store import ReviewStore
from labflow.store.outputs import MissingOutputError, OutputStore, open_output_store
from resources import CatalogResource, LabStorageResource

REVIEW_GROUP = "review"

# A new dataset version on every tick that saw an annotation change (and a first, empty one at start).
# Not eager(): its "since last handled" reset drops an update that lands in the same tick as the
# previous dataset run's own update. Overlapping requests are serialised by the asset's pool instead.
DATASET_AUTOMATION = (
    dg.AutomationCondition.any_deps_updated() | dg.AutomationCondition.missing().newly_true()
).with_label("any_annotation_updated")
DATASET_POOL = "confirmed_dataset"


@dg.asset(
    name=ANNOTATIONS_ASSET,
    partitions_def=runs_partitions,
    deps=["clean_series", "peaks"],
    group_name=REVIEW_GROUP,
    kinds={"json"},
    description="The run's newest confirmed annotation: verdict, reasons, corrected peaks measured on the "
    "cleaned signal, anomaly intervals, the recipe's objective value, and provenance.",
)
def annotations(context: dg.AssetExecutionContext, catalog: CatalogResource,
                lab: LabStorageResource) -> dg.MaterializeResult:
    """Store the newest confirmed annotation of this run."""
    store = catalog.get_catalog()
    processor = RunProcessor(lab.settings(), store, lab.recipes())
    try:
        stored = annotate_run(processor, ReviewStore(store), context.partition_key)
    except (LookupError, ValueError, MissingOutputError) as error:
        raise dg.Failure(description=str(error)) from None
    objective = stored["objective"]
    return dg.MaterializeResult(metadata={
        "version": stored["version"], "verdict": stored["verdict"], "author": stored["author"],
        "confirmed_at": stored["confirmed_at"], "peaks": len(stored["peaks"]),
        "intervals": len(stored["intervals"]), "objective_kind": objective["kind"],
        "objective": objective["value"] if objective["value"] is not None else "none",
        "objective_detail": objective["detail"], "changes": dg.MetadataValue.md(
            "\n".join(f"- {c}" for c in stored["changes"]) or "-"),
        "path": dg.MetadataValue.path(processor.outputs.location(ANNOTATIONS_ASSET, context.partition_key, "json")),
    })


@dg.asset(
    name=DATASET_ASSET,
    deps=[ANNOTATIONS_ASSET],
    group_name=REVIEW_GROUP,
    kinds={"parquet"},
    automation_condition=DATASET_AUTOMATION,
    pool=DATASET_POOL,
    description="Every confirmed-valid run with its experiment inputs, objective and provenance; what the "
    "optimisers read. Rejected runs and drafts never enter it; each change is a new version (digest).",
)
def confirmed_dataset(context: dg.AssetExecutionContext, lab: LabStorageResource) -> dg.MaterializeResult:
    """Collect the accepted annotations into the confirmed dataset (a new version if anything changed)."""
    outputs = open_output_store(lab.settings())
    previous = _previous_runs(outputs)
    frame = build_confirmed_dataset(read_annotation_outputs(outputs))
    digest, path = write_dataset(frame, outputs)
    current = set(frame["run_key"].to_list())
    context.log.info(f"confirmed dataset {digest}: {frame.height} run(s)")
    return dg.MaterializeResult(metadata={
        "digest": digest, "rows": frame.height,
        "experiments": frame["experiment_id"].n_unique() if frame.height else 0,
        "runs_added": ", ".join(sorted(current - previous)) or "none",
        "runs_removed": ", ".join(sorted(previous - current)) or "none",
        "path": dg.MetadataValue.path(path),
        "preview": dg.MetadataValue.md(frame_to_markdown(frame.drop("inputs"), max_rows=20)),
    })


def _previous_runs(outputs: OutputStore) -> set[str]:
    try:
        return set(outputs.read_frame(DATASET_ASSET, "latest")["run_key"].to_list())
    except MissingOutputError:
        return set()
