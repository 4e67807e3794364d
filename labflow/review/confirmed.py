"""From confirmed annotations to the confirmed dataset the optimisers read.

:func:`annotation_output` turns a run's newest confirmed annotation into what the ``annotations``
asset stores: the corrected peaks measured on the cleaned signal, the objective computed by the
run's recipe, and provenance (file hash, recipe hash, annotation version).
:func:`build_confirmed_dataset` collects the stored outputs of every accepted run into one table;
runs whose newest annotation rejects them (invalid, failed experiment) are left out, so a run
found to be a failed experiment after it was confirmed leaves the next version of the dataset.
Runs whose objective could not be measured (e.g. no peaks) are left out too: an optimiser is never
offered a point without a value. :func:`why_left_out` is that one rule, which the app's sentence uses.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from labflow.review.annotations import ACCEPTED_VERDICTS
from labflow.store.catalog import RunNotFound, RunRecord, campaign_of
from labflow.processing.apply import changes_cleaning, clean
from labflow.processing.objective import compute_objective
from labflow.processing.peaks import measure_peaks
from labflow.processing.pipeline import RunProcessor
from labflow.processing.recipes import Recipe
from labflow.review.store import AnnotationVersion, ReviewStore
from labflow.store.outputs import OutputStore

ANNOTATIONS_ASSET = "annotations"
ANNOTATED_PEAKS = "annotated_peaks"
DATASET_ASSET = "confirmed_dataset"

DATASET_SCHEMA: dict[str, Any] = {
    "run_key": pl.String, "experiment_id": pl.String, "campaign": pl.String, "inputs": pl.String,
    "objective": pl.Float64, "objective_kind": pl.String, "objective_detail": pl.String,
    "verdict": pl.String, "peak_count": pl.Int64, "annotation_version": pl.Int64, "confirmed_by": pl.String,
    "confirmed_at": pl.Datetime("us", "UTC"), "file_sha256": pl.String, "recipe_id": pl.String,
    "recipe_hash": pl.String, "instrument": pl.String, "operator": pl.String, "material": pl.String,
    "axis_kind": pl.String, "axis_unit": pl.String,
}
TIME_AXIS = {"kind": "time", "name": "time", "unit": "s"}


def annotation_output(run: RunRecord, version: AnnotationVersion, recipe: Recipe,
                      cleaned: pl.DataFrame, axis: dict[str, Any] | None = None) -> tuple[dict[str, Any], pl.DataFrame]:
    """The stored form of a run's confirmed annotation, and its measured peak table.

    Peaks are measured on the cleaned channel the annotation names (else the recipe's peak channel,
    else the first), then the recipe's objective rule is applied to them. Peak positions and the objective
    are on the series' axis (``axis``: kind, name, unit from ``raw_series_info``; time in seconds if absent).
    """
    annotation = version.annotation
    channel = annotation.channel or recipe.peaks.channel or _first_channel(cleaned)
    column = f"{channel}_clean" if f"{channel}_clean" in cleaned.columns else channel
    if column not in cleaned.columns:
        raise ValueError(f"the annotation of {run.run_key} names channel {channel!r}, which the series lacks")
    time_s, values = cleaned["time_s"].to_numpy(), cleaned[column].to_numpy()
    peaks = measure_peaks(time_s, values, np.array([p.time_s for p in annotation.peaks]), params=recipe.peaks)
    objective = compute_objective(recipe.objective, peaks, time_s, values)
    origins = _origins(annotation, peaks)
    peaks = peaks.with_columns(pl.Series("origin", origins, dtype=pl.String), pl.lit(channel).alias("channel"))
    stored = {
        "run_key": run.run_key, "version": version.version, "author": version.author,
        "confirmed_at": version.created_at.isoformat(), "verdict": annotation.verdict,
        "accepted": annotation.accepted, "reasons": list(annotation.reasons), "note": annotation.note,
        "channel": channel, "intervals": [i.model_dump() for i in annotation.intervals],
        "peaks": peaks.to_dicts(), "objective": objective.to_dict(), "changes": version.changes,
        "inputs": {k: v for k, v in run.params.items() if k != "campaign"}, "experiment_id": run.experiment_id,
        "campaign": campaign_of(run.params), "instrument": run.instrument, "operator": run.operator,
        "material": run.material, "file_sha256": run.sha256, "recipe_id": recipe.id,
        "recipe_hash": recipe.content_hash, "recipe_overrides": dict(annotation.recipe_overrides),
        "axis": {k: (axis or TIME_AXIS).get(k, TIME_AXIS[k]) for k in TIME_AXIS},
    }
    return stored, peaks


def store_annotation(run: RunRecord, version: AnnotationVersion, recipe: Recipe, cleaned: pl.DataFrame,
                     store: OutputStore, axis: dict[str, Any] | None = None) -> dict[str, Any]:
    """Compute and write a run's annotation output (JSON) and its measured peaks (Parquet)."""
    stored, peaks = annotation_output(run, version, recipe, cleaned, axis)
    store.write_json(ANNOTATIONS_ASSET, run.run_key, stored)
    store.write_frame(ANNOTATED_PEAKS, run.run_key, peaks)
    return stored


def annotate_run(processor: RunProcessor, review: ReviewStore, run_key: str) -> dict[str, Any]:
    """Store the output of a run's newest confirmed annotation (what the ``annotations`` asset holds).

    Peaks are measured on the stored cleaned series, or, when the person kept other smoothing
    parameters, on the raw series smoothed with them (computed here, never written over the ETL output).
    """
    run = processor.catalog.get_run(run_key)
    if run is None:
        raise RunNotFound(run_key)
    version = review.latest_version(run_key)
    if version is None:
        raise LookupError(f"run {run_key} has no confirmed annotation yet; confirm it in the labelling app first")
    overrides = dict(version.annotation.recipe_overrides)
    recipe = processor.recipe_for(run, overrides or None)
    if changes_cleaning(overrides):
        cleaned = clean(processor.outputs.read_frame("raw_series", run_key), recipe)
    else:
        cleaned = processor.outputs.read_frame("clean_series", run_key)
    axis = processor.series_info(run_key).get("axis")
    return store_annotation(run, version, recipe, cleaned, processor.outputs, axis)


def write_dataset(frame: pl.DataFrame, store: OutputStore) -> tuple[str, str]:
    """Write the dataset as this version (by digest) and as ``latest``; returns (digest, latest path)."""
    digest = dataset_digest(frame)
    store.write_frame(DATASET_ASSET, f"versions/{digest}", frame)
    return digest, str(store.write_frame(DATASET_ASSET, "latest", frame))


def why_left_out(verdict: str | None, objective: float | None) -> str | None:
    """Why a confirmed run stays out of the confirmed dataset, or ``None`` when it enters.

    >>> why_left_out("valid", 2.5) is None
    True
    >>> why_left_out("valid", None)
    'its objective could not be measured'
    """
    if verdict not in ACCEPTED_VERDICTS:
        return "rejected runs never do"
    if objective is None or not math.isfinite(objective):
        return "its objective could not be measured"
    return None


def build_confirmed_dataset(outputs: Iterable[dict[str, Any]]) -> pl.DataFrame:
    """One row per accepted run with a measured objective, from stored annotation outputs."""
    rows = [_dataset_row(o) for o in outputs
            if why_left_out(o.get("verdict"), (o.get("objective") or {}).get("value")) is None]
    frame = pl.DataFrame(rows, schema=DATASET_SCHEMA, orient="row") if rows else pl.DataFrame(schema=DATASET_SCHEMA)
    return frame.sort("run_key")


def read_annotation_outputs(store: OutputStore) -> list[dict[str, Any]]:
    """Every stored ``annotations`` output (the newest confirmed version of each annotated run)."""
    return [store.read_json(ANNOTATIONS_ASSET, key) for key in store.run_keys(ANNOTATIONS_ASSET, "json")]


def dataset_digest(frame: pl.DataFrame) -> str:
    """A content hash of the dataset (the same rows give the same digest): the ETag of a version."""
    canonical = json.dumps(frame.to_dicts(), sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:20]


def experiment_points(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """The dataset grouped by experiment for an optimiser: inputs, mean objective, runs, provenance.

    Runs without an experiment id form their own point each. Every row of the dataset has an
    objective (:func:`build_confirmed_dataset`), so every point has one.
    """
    points: dict[str, dict[str, Any]] = {}
    for row in frame.sort("confirmed_at").to_dicts():
        key = row["experiment_id"] or f"run:{row['run_key']}"
        point = points.setdefault(key, {"experiment_id": row["experiment_id"], "campaign": row["campaign"],
                                        "inputs": json.loads(row["inputs"]), "objectives": [], "run_ids": [],
                                        "confirmed_at": row["confirmed_at"], "provenance": []})
        point["run_ids"].append(row["run_key"])
        point["confirmed_at"] = max(point["confirmed_at"], row["confirmed_at"])
        point["objectives"].append(row["objective"])
        point["provenance"].append({k: row[k] for k in ("run_key", "file_sha256", "recipe_id", "recipe_hash",
                                                         "annotation_version", "confirmed_by", "objective_kind")})
    result = []
    for point in points.values():
        objectives = point.pop("objectives")
        point["objective"] = float(np.mean(objectives))
        result.append(point)
    return result


def _dataset_row(output: dict[str, Any]) -> dict[str, Any]:
    objective = output.get("objective") or {}
    return {
        "run_key": output["run_key"], "experiment_id": output.get("experiment_id"),
        "campaign": output.get("campaign"), "inputs": json.dumps(output.get("inputs") or {}, sort_keys=True),
        "objective": objective.get("value"), "objective_kind": objective.get("kind"),
        "objective_detail": objective.get("detail"), "verdict": output["verdict"],
        "peak_count": len(output.get("peaks") or []), "annotation_version": output["version"],
        "confirmed_by": output["author"], "confirmed_at": datetime.fromisoformat(output["confirmed_at"]),
        "file_sha256": output["file_sha256"], "recipe_id": output["recipe_id"],
        "recipe_hash": output["recipe_hash"], "instrument": output.get("instrument"),
        "operator": output.get("operator"), "material": output.get("material"),
        "axis_kind": (output.get("axis") or TIME_AXIS)["kind"], "axis_unit": (output.get("axis") or TIME_AXIS)["unit"],
    }


def _first_channel(cleaned: pl.DataFrame) -> str:
    channels = [c for c in cleaned.columns if c not in ("time_s", "timestamp") and not c.endswith("_clean")]
    if not channels:
        raise ValueError("the cleaned series has no value channel")
    return channels[0]


def _origins(annotation: Any, peaks: pl.DataFrame) -> list[str]:
    """Origin of each measured peak: that of the placed peak nearest it."""
    if not annotation.peaks or peaks.height == 0:
        return ["detected"] * peaks.height
    placed = np.array([p.time_s for p in annotation.peaks])
    return [annotation.peaks[int(np.abs(placed - t).argmin())].origin for t in peaks["time_s"].to_list()]
