"""Per-run ETL assets: raw_file → raw_series → clean_series → peaks → quality_report.

The five assets are one ``multi_asset`` step so that a batch of files (a partition range) is
processed in a single run: the body loops over the run's partition keys and emits one
materialization (and its check evaluations) per asset and partition. A bad file fails only its
own partition: it is quarantined, its downstream assets are not materialized, and the run ends
as failed naming it, after every other file of the batch has been processed.
"""


from typing import Any, Optional

import dagster as dg

from lab_assets.partitions import runs_partitions
from labflow.ops.run_kinds import OUTCOME_TAG
from labflow.processing.pipeline import STEPS, RunProcessor, StepFailed, StepReport, describe_batch
from resources import CatalogResource, LabStorageResource

ETL_GROUP = "etl"
MAX_OUTCOME_CHARS = 1000  # of the run tag (the failure description has it whole)

_DESCRIPTIONS = {
    "raw_file": "Immutable raw copy of the instrument file (content-addressed) with its captured metadata.",
    "raw_series": "The file parsed and validated into a typed time series (Parquet).",
    "clean_series": "Rolling-mean smoothed channels (optional baseline removal) beside the raw ones.",
    "peaks": "Detected peaks: time, height, prominence, width, area; plus a raw-vs-cleaned picture.",
    "quality_report": "Missing data, noise/SNR, clipping, flat lines, gaps, duplicates → flags and a 0–1 score.",
}

ETL_SPECS = [
    dg.AssetSpec(
        step,
        deps=[STEPS[i - 1]] if i else [],
        description=_DESCRIPTIONS[step],
        group_name=ETL_GROUP,
        skippable=True,
        kinds={"parquet"} if step != "raw_file" else {"csv"},
    )
    for i, step in enumerate(STEPS)
]

ETL_CHECKS = [
    dg.AssetCheckSpec("peaks_found", asset="peaks",
                      description="At least one peak was detected (when the recipe's objective is measured on peaks)."),
    dg.AssetCheckSpec("score_above_minimum", asset="quality_report",
                      description="Quality score is at least the recipe's quality.min_score."),
    dg.AssetCheckSpec("no_sampling_gaps", asset="quality_report", description="No step longer than the gap factor."),
    dg.AssetCheckSpec("no_clipping", asset="quality_report", description="No saturated (clipped) samples."),
]


class EtlConfig(dg.Config):
    """Launchpad parameters for re-running steps with other settings (empty = the recipe's)."""

    recipe: Optional[str] = None
    smoothing_window: Optional[int] = None
    smoothing_centered: Optional[bool] = None
    baseline: Optional[str] = None
    peak_channel: Optional[str] = None
    peak_mode: Optional[str] = None
    peak_min_prominence: Optional[float] = None
    peak_min_height: Optional[float] = None
    peak_min_distance_s: Optional[float] = None

    def overrides(self) -> dict[str, Any]:
        """Dotted recipe overrides for the fields that were set."""
        mapping = {
            "smoothing.window": self.smoothing_window, "smoothing.centered": self.smoothing_centered,
            "smoothing.baseline": self.baseline, "peaks.channel": self.peak_channel,
            "peaks.mode": self.peak_mode, "peaks.min_prominence": self.peak_min_prominence,
            "peaks.min_height": self.peak_min_height, "peaks.min_distance_s": self.peak_min_distance_s,
        }
        return {k: v for k, v in mapping.items() if v is not None}


def plain(value: Any) -> Any:
    """NumPy scalars as Python numbers; anything else that is not a number or text as text."""
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    return value if isinstance(value, (int, float, str, bool)) else str(value)


def to_metadata(report: StepReport) -> dict[str, Any]:
    """A step report as Dagster metadata: numbers and text as-is, markdown and paths typed."""
    metadata: dict[str, Any] = {k: plain(v) for k, v in report.values.items() if v is not None}
    if report.path:
        metadata["path"] = dg.MetadataValue.path(report.path)
    for key, text in report.markdown.items():
        metadata[key] = dg.MetadataValue.md(text)
    return metadata


def _check_events(report: StepReport, partition: str, selected: set[dg.AssetCheckKey]):
    for check in report.checks:
        key = dg.AssetCheckKey(dg.AssetKey(check.asset), check.name)
        if key in selected:
            yield dg.AssetCheckEvaluation(
                asset_key=key.asset_key, check_name=check.name, passed=check.passed,
                severity=dg.AssetCheckSeverity[check.severity], description=check.description,
                metadata={k: plain(v) for k, v in check.values.items()}, partition=partition,
            )


@dg.multi_asset(
    name="run_etl",
    specs=ETL_SPECS,
    check_specs=ETL_CHECKS,
    partitions_def=runs_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    can_subset=True,
)
def run_etl(context: dg.AssetExecutionContext, config: EtlConfig, catalog: CatalogResource,
            lab: LabStorageResource):
    """Process every run of this run's partitions through the selected steps, in order."""
    processor = RunProcessor(lab.settings(), catalog.get_catalog(), lab.recipes())
    steps = [s for s in STEPS if dg.AssetKey(s) in context.selected_asset_keys]
    checks = set(context.selected_asset_check_keys)
    keys = context.partition_keys
    failures: list[StepFailed] = []
    context.log.info(f"processing {len(keys)} run(s) through {', '.join(steps)}")
    for done, run_key in enumerate(keys, start=1):
        for step in steps:
            try:
                report = processor.run_step(step, run_key, overrides=config.overrides(), recipe_id=config.recipe)
            except StepFailed as failure:
                context.log.error(str(failure))
                failures.append(failure)
                break
            yield dg.AssetMaterialization(asset_key=step, partition=run_key, metadata=to_metadata(report))
            yield from _check_events(report, run_key, checks)
        if done % 10 == 0 or done == len(keys):
            context.log.info(f"{done}/{len(keys)} runs processed, {len(failures)} failed")
    names = {f.run_key: run.original_name for f in failures if (run := processor.catalog.get_run(f.run_key))}
    outcome = describe_batch(len(keys), failures, names)
    context.instance.add_run_tags(context.run_id, {OUTCOME_TAG: outcome[:MAX_OUTCOME_CHARS]})
    context.log.info(outcome)
    if failures:  # the run fails (and raises its alert), saying what happened to every file
        raise dg.Failure(description=outcome, metadata={"failed_runs": ", ".join(f.run_key for f in failures)})
