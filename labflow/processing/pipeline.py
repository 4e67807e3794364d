"""The per-run ETL steps: raw file → raw series → clean series → peaks → quality report.

Each step reads its input from the object store or the output store, calls the scientific
functions (parsing, smoothing, peaks, quality), writes its own output, updates the catalog, and
returns a :class:`StepReport` of what a person should see. Bad input raises :class:`StepFailed`
after the file has been quarantined with its reason; nothing downstream is written then.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import polars as pl

from labflow.store.catalog import Catalog, RunRecord
from labflow.experiments import ExperimentStore
from labflow.ingest.metadata import (
    CapturedMetadata,
    MetadataError,
    RunMetadata,
    merge_metadata,
    metadata_from_path,
    normalise_header_fields,
    parse_sidecar,
)
from labflow.store.objects import ObjectIntegrityError, open_object_store, quarantine
from labflow.processing.parsing import ParseError, parse_instrument_csv, read_header_metadata
from labflow.processing.peaks import detect_peaks
from labflow.processing.plots import png_to_markdown, render_run_png
from labflow.processing.quality import QualityReport, assess_quality
from labflow.processing.recipes import Recipe, RecipeBook
from labflow.ops.report import frame_to_markdown, mapping_to_markdown
from labflow.settings import Settings
from labflow.processing.smoothing import clean_series
from labflow.store.outputs import MissingOutputError, open_output_store

STEPS = ("raw_file", "raw_series", "clean_series", "peaks", "quality_report")
TIME_COLUMNS = ("time_s", "timestamp")


class StepFailed(RuntimeError):
    """A step could not produce its output for one run; the message is for the person reading it."""

    def __init__(self, step: str, run_key: str, message: str, *, quarantined: bool = False):
        super().__init__(f"{step} of {run_key}: {message}")
        self.step = step
        self.run_key = run_key
        self.message = message
        self.quarantined = quarantined


MAX_NAMED_FAILURES = 5


def describe_batch(total: int, failures: Sequence[StepFailed], names: Mapping[str, str]) -> str:
    """What happened to a batch of files, in one line a person reads without opening the run.

    >>> describe_batch(20, [StepFailed("raw_series", "k", "line 3: no number", quarantined=True)], {"k": "b.csv"})
    '19 processed, 1 quarantined (b.csv: line 3: no number)'
    """
    parts = [f"{total - len(failures)} processed"]
    for label, group in (("quarantined", [f for f in failures if f.quarantined]),
                         ("failed", [f for f in failures if not f.quarantined])):
        if not group:
            continue
        named = "; ".join(f"{names.get(f.run_key, f.run_key)}: {f.message.splitlines()[0]}"
                          for f in group[:MAX_NAMED_FAILURES])
        more = f"; {len(group) - MAX_NAMED_FAILURES} more" if len(group) > MAX_NAMED_FAILURES else ""
        parts.append(f"{len(group)} {label} ({named}{more})")
    return ", ".join(parts)


@dataclass(frozen=True)
class CheckOutcome:
    """One asset-check evaluation computed from a step's data."""

    asset: str
    name: str
    passed: bool
    severity: Literal["WARN", "ERROR"]
    description: str
    values: dict[str, float | int | str] = field(default_factory=dict)


@dataclass
class StepReport:
    """What a step produced, in words and numbers a person can read."""

    values: dict[str, Any] = field(default_factory=dict)
    path: str | None = None
    markdown: dict[str, str] = field(default_factory=dict)
    checks: list[CheckOutcome] = field(default_factory=list)


def value_channels(frame: pl.DataFrame) -> list[str]:
    """The value columns of a raw series (everything but the time columns)."""
    return [c for c in frame.columns if c not in TIME_COLUMNS]


class RunProcessor:
    """Runs ETL steps for runs registered in the catalog."""

    def __init__(self, settings: Settings, catalog: Catalog, recipes: RecipeBook):
        self.settings = settings
        self.catalog = catalog
        self.recipes = recipes
        self.outputs = open_output_store(settings)
        self.objects = open_object_store(settings)
        self.experiments = ExperimentStore(catalog)

    # -- helpers -------------------------------------------------------------------------------
    def _run(self, step: str, run_key: str) -> RunRecord:
        run = self.catalog.get_run(run_key)
        if run is None:
            raise StepFailed(step, run_key, "this run key is not in the catalog; ingest the file first")
        return run

    def recipe_for(self, run: RunRecord, overrides: Mapping[str, Any] | None = None,
                   recipe_id: str | None = None) -> Recipe:
        """The run's recipe (explicit id, else the run's, else by instrument) with overrides applied."""
        recipe = self.recipes.for_run(instrument=run.instrument, requested=recipe_id or run.recipe_id)
        return recipe.with_overrides(overrides) if overrides else recipe

    def _fail(self, step: str, run: RunRecord, message: str, *, quarantine_data: bytes | None = None) -> StepFailed:
        """Mark the run failed; with the file's bytes, also put them into quarantine with the reason."""
        if quarantine_data is not None:
            where = quarantine(self.settings.quarantine, run_key=run.run_key, original_name=run.original_name,
                               data=quarantine_data, error=message, source=run.source)
            message = f"{message}\n(quarantined as {where.name})"
        self.catalog.set_status(run.run_key, "failed", error=message)
        return StepFailed(step, run.run_key, message, quarantined=quarantine_data is not None)

    def _read(self, step: str, run_key: str, asset: str) -> pl.DataFrame:
        try:
            return self.outputs.read_frame(asset, run_key)
        except MissingOutputError as error:
            raise StepFailed(step, run_key, str(error)) from None

    def _duplicate_rows_dropped(self, run_key: str) -> int:
        """How many exact duplicate rows the parser dropped (0 if the parse info is not there)."""
        try:
            return int(self.outputs.read_json("raw_series_info", run_key).get("duplicate_rows_dropped", 0))
        except MissingOutputError:
            return 0

    def _raw_bytes(self, step: str, run: RunRecord) -> bytes:
        try:
            return self.objects.read_verified(run.object_path, run.sha256)
        except ObjectIntegrityError as error:
            raise self._fail(step, run, str(error)) from None

    # -- steps ---------------------------------------------------------------------------------
    def run_step(self, step: str, run_key: str, *, overrides: Mapping[str, Any] | None = None,
                 recipe_id: str | None = None) -> StepReport:
        """Run one named step for one run."""
        if step not in STEPS:
            raise ValueError(f"unknown step {step!r}; steps are {', '.join(STEPS)}")
        run = self._run(step, run_key)
        if step == "raw_file":
            return self.raw_file(run, recipe_id=recipe_id)
        recipe = self.recipe_for(run, overrides, recipe_id)
        report = getattr(self, step)(run, recipe)
        report.values.update({"recipe_id": recipe.id, "recipe_hash": recipe.content_hash})
        if overrides:
            report.values["recipe_overrides"] = ", ".join(f"{k}={v}" for k, v in overrides.items())
        return report

    def raw_file(self, run: RunRecord, *, recipe_id: str | None = None) -> StepReport:
        """Verify the raw copy and capture its metadata (folder, header lines, sidecar)."""
        data = self._raw_bytes("raw_file", run)
        try:
            captured = self._capture_metadata(run, data)
        except MetadataError as error:
            raise self._fail("raw_file", run, str(error), quarantine_data=data) from None
        self.catalog.set_metadata(run.run_key, captured)
        link = self.experiments.link_run(self._run("raw_file", run.run_key))  # experiment id, campaign, inputs
        recipe = self.recipes.for_run(instrument=captured.instrument, requested=recipe_id)
        self.catalog.set_recipe(run.run_key, recipe.id, recipe.content_hash)
        self.catalog.set_status(run.run_key, "processing")
        fields = {k: v for k, v in captured.as_dict().items() if k not in ("params", "sources") and v}
        if link is not None:
            fields["experiment_id"] = link.experiment_id
        return StepReport(
            values={"sha256": run.sha256, "size_bytes": run.size_bytes, "original_name": run.original_name,
                    "source": run.source, **fields, "recipe_id": recipe.id, "recipe_hash": recipe.content_hash},
            path=run.object_path,
            markdown={"metadata": mapping_to_markdown({
                **{k: f"{v}  (from {captured.sources.get(k, '?')})" for k, v in fields.items()},
                **{f"params.{k}": v for k, v in captured.params.items()},
            })},
        )

    def _capture_metadata(self, run: RunRecord, data: bytes) -> CapturedMetadata:
        relative = run.source.split(":", 1)[1] if ":" in run.source else run.original_name
        header = normalise_header_fields(read_header_metadata(data))
        layers: list[tuple[str, Mapping[str, Any]]] = [("folder", metadata_from_path(relative)), ("header", header)]
        if run.sidecar_name is not None:
            layers.append(("sidecar", parse_sidecar(run.sidecar_name, run.sidecar_text or "")))
        return merge_metadata(layers)

    def raw_series(self, run: RunRecord, recipe: Recipe) -> StepReport:
        """Parse and validate the instrument file into a typed series."""
        data = self._raw_bytes("raw_series", run)
        try:
            parsed = parse_instrument_csv(data, name=run.original_name, time_column=recipe.parse.time_column,
                                          channels=recipe.parse.channels, unsorted_time=recipe.parse.unsorted_time)
        except ParseError as error:
            raise self._fail("raw_series", run, str(error), quarantine_data=data) from None
        path = self.outputs.write_frame("raw_series", run.run_key, parsed.frame)
        info = {
            "rows": parsed.rows, "channels": parsed.channels, "time_kind": parsed.time_kind,
            "time_column": parsed.time_column, "units": parsed.units, "encoding": parsed.encoding,
            "delimiter": {"\t": "tab"}.get(parsed.delimiter, parsed.delimiter),
            "decimal_comma": parsed.decimal_comma, "header_line": parsed.header_line,
            "duplicate_rows_dropped": parsed.duplicate_rows_dropped, "notes": parsed.notes,
        }
        self.outputs.write_json("raw_series_info", run.run_key, info)
        if run.started_at is None and "timestamp" in parsed.frame.columns:
            first = parsed.frame["timestamp"][0]
            self.catalog.set_metadata(run.run_key, _with_started_at(run, first))
        self.catalog.set_status(run.run_key, "parsed")
        values = {k: v for k, v in info.items() if k not in ("channels", "units", "notes")}
        values.update(channels=", ".join(parsed.channels), notes="; ".join(parsed.notes) or "none")
        return StepReport(values=values, path=str(path),
                          markdown={"preview": frame_to_markdown(parsed.frame)})

    def clean_series(self, run: RunRecord, recipe: Recipe) -> StepReport:
        """Rolling-mean smoothing (and optional baseline removal) beside the raw channels."""
        raw = self._read("clean_series", run.run_key, "raw_series")
        cleaned = clean_series(raw, value_channels(raw), recipe.smoothing)
        path = self.outputs.write_frame("clean_series", run.run_key, cleaned)
        smoothing = recipe.smoothing
        return StepReport(
            values={"rows": cleaned.height, "window": smoothing.window, "centered": smoothing.centered,
                    "baseline": smoothing.baseline},
            path=str(path), markdown={"preview": frame_to_markdown(cleaned)},
        )

    def peaks(self, run: RunRecord, recipe: Recipe) -> StepReport:
        """Detect peaks on the recipe's channel, with a picture of raw vs cleaned and the peaks."""
        cleaned = self._read("peaks", run.run_key, "clean_series")
        channel = self._peak_channel(run, recipe, cleaned)
        column = f"{channel}_clean" if recipe.peaks.source == "cleaned" else channel
        result = detect_peaks(cleaned["time_s"].to_numpy(), cleaned[column].to_numpy(), recipe.peaks)
        table = result.table.with_columns(pl.lit(channel).alias("channel"))
        path = self.outputs.write_frame("peaks", run.run_key, table)
        png = render_run_png(cleaned, channel, table, title=f"{run.original_name} · {channel}")
        self.outputs.write_bytes("peaks_plot", run.run_key, "png", png)
        checks = [_peaks_check(table.height, channel, recipe)]
        return StepReport(
            values={"count": table.height, "channel": channel,
                    **{f"threshold.{k}": v for k, v in result.thresholds.items()}},
            path=str(path),
            markdown={"plot": png_to_markdown(png, f"{run.run_key} raw vs cleaned with peaks"),
                      "peaks": frame_to_markdown(table, max_rows=20)},
            checks=checks,
        )

    def _peak_channel(self, run: RunRecord, recipe: Recipe, cleaned: pl.DataFrame) -> str:
        channels = [c for c in value_channels(cleaned) if not c.endswith("_clean")]
        wanted = recipe.peaks.channel or channels[0]
        if wanted not in channels:
            raise self._fail("peaks", run, f"recipe {recipe.id!r} asks for channel {wanted!r}; "
                             f"the file has {', '.join(channels)}")
        return wanted

    def quality_report(self, run: RunRecord, recipe: Recipe) -> StepReport:
        """Quality flags and a 0–1 score, with asset checks on the same numbers."""
        raw = self._read("quality_report", run.run_key, "raw_series")
        report = assess_quality(raw, value_channels(raw), recipe.quality,
                                duplicate_rows_dropped=self._duplicate_rows_dropped(run.run_key))
        path = self.outputs.write_json("quality_report", run.run_key, report.to_dict())
        self.catalog.set_quality(run.run_key, report.score, list(report.flags))
        self.catalog.set_status(run.run_key, "processed")
        return StepReport(
            values={"score": round(report.score, 4), "flags": ", ".join(report.flags) or "none",
                    **{k: v for k, v in report.metrics.items() if isinstance(v, (int, float))}},
            path=str(path),
            markdown={"explanations": "\n".join(f"- **{k}**: {v}" for k, v in report.explanations.items())
                      or "No quality problems found."},
            checks=_quality_checks(report, recipe),
        )


def _peaks_check(count: int, channel: str, recipe: Recipe) -> CheckOutcome:
    """At least one peak, when the recipe's objective is measured on peaks (else the check cannot fail)."""
    found = f"{count} peaks found on {channel}"
    if not recipe.objective.needs_peaks:
        return CheckOutcome("peaks", "peaks_found", True, "WARN",
                            f"{found}; recipe {recipe.id!r} measures a {recipe.objective.kind}, not peaks",
                            {"count": count})
    return CheckOutcome("peaks", "peaks_found", count > 0, "WARN", found, {"count": count})


def _quality_checks(report: QualityReport, recipe: Recipe) -> list[CheckOutcome]:
    minimum = recipe.quality.min_score
    return [
        CheckOutcome("quality_report", "score_above_minimum", report.score >= minimum, "WARN",
                     f"quality score {report.score:.2f} (minimum {minimum:.2f})", {"score": report.score}),
        CheckOutcome("quality_report", "no_sampling_gaps", "sampling_gaps" not in report.flags, "WARN",
                     report.explanations.get("sampling_gaps", "no sampling gaps"),
                     {"gap_count": int(report.metrics.get("gap_count", 0))}),
        CheckOutcome("quality_report", "no_clipping", "clipping" not in report.flags, "WARN",
                     report.explanations.get("clipping", "no clipping or saturation")),
    ]


def _with_started_at(run: RunRecord, started_at: Any) -> RunMetadata:
    return RunMetadata(instrument=run.instrument, operator=run.operator, material=run.material,
                       experiment_id=run.experiment_id, started_at=started_at, params=run.params)
