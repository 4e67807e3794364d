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
    parse_sidecar_raw,
)
from labflow.store.objects import ObjectIntegrityError, open_object_store, quarantine
from labflow.processing.apply import UnknownChannel, clean, find_peaks, value_channels
from labflow.processing.raw_series import read_series
from labflow.processing.readers import ReadRefused, read_file
from labflow.processing.readers.registry import decompressed, reader_options
from labflow.processing.plots import png_to_markdown, render_run_png
from labflow.processing.quality import QualityReport, assess_quality
from labflow.processing.recipes import DEFAULT_RECIPE_ID, Recipe, RecipeBook
from labflow.ops.report import frame_to_markdown, mapping_to_markdown
from labflow.settings import Settings
from labflow.store.outputs import MissingOutputError, open_output_store
from labflow.processing.table_limits import TableTooLarge, check_table_bounds

STEPS = ("raw_file", "raw_series", "clean_series", "peaks", "quality_report")


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

    def series_info(self, run_key: str) -> dict[str, Any]:
        """What the reader said about the run's series ({} if the parse info is not there)."""
        try:
            return dict(self.outputs.read_json("raw_series_info", run_key))
        except MissingOutputError:
            return {}

    def _raw_bytes(self, step: str, run: RunRecord) -> bytes:
        try:
            return self.objects.read_verified(run.object_path, run.sha256)
        except ObjectIntegrityError as error:
            raise self._fail(step, run, str(error)) from None

    def _table_bytes(self, step: str, run: RunRecord) -> bytes:
        """The raw bytes, refused (and quarantined) when they pass the table limits every reader relies on."""
        data = self._raw_bytes(step, run)
        try:
            check_table_bounds(decompressed(data, run.original_name)[0], run.original_name)
        except (TableTooLarge, ReadRefused) as error:
            raise self._fail(step, run, str(error), quarantine_data=data) from None
        return data

    # -- steps ---------------------------------------------------------------------------------
    def run_step(self, step: str, run_key: str, *, overrides: Mapping[str, Any] | None = None,
                 recipe_id: str | None = None) -> StepReport:
        """Run one named step for one run."""
        if step not in STEPS:
            raise ValueError(f"unknown step {step!r}; steps are {', '.join(STEPS)}")
        run = self._run(step, run_key)
        try:
            if step == "raw_file":
                return self.raw_file(run, recipe_id=recipe_id)
            recipe = self.recipe_for(run, overrides, recipe_id)
            report = getattr(self, step)(run, recipe)
        except StepFailed:
            raise
        except Exception as error:  # an input nobody foresaw: this file's failure, never its batch's
            message = (f"stopped with an unexpected {type(error).__name__}: {str(error)[:300]}; the file was set "
                       "aside so that the rest of its batch goes on (please report it with the file)")
            raise self._fail(step, run, message, quarantine_data=self._raw_or_none(run)) from error
        report.values.update({"recipe_id": recipe.id, "recipe_hash": recipe.content_hash})
        if overrides:
            report.values["recipe_overrides"] = ", ".join(f"{k}={v}" for k, v in overrides.items())
        return report

    def _raw_or_none(self, run: RunRecord) -> bytes | None:
        """The run's raw bytes for the quarantine, or ``None`` when even they cannot be read."""
        try:
            return self.objects.read_verified(run.object_path, run.sha256)
        except Exception:
            return None

    def raw_file(self, run: RunRecord, *, recipe_id: str | None = None) -> StepReport:
        """Verify the raw copy, check it against the table limits and capture its metadata (folder, header
        lines, sidecar)."""
        data = self._table_bytes("raw_file", run)
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
        try:
            header = normalise_header_fields(read_file(data, run.original_name, self._read_options(run)).metadata)
        except ReadRefused:
            header = {}  # raw_series quarantines the file with the reason
        layers: list[tuple[str, Mapping[str, Any]]] = [("folder", metadata_from_path(relative)), ("header", header)]
        if run.sidecar_name is not None:
            layers.append(("sidecar", parse_sidecar(run.sidecar_name, run.sidecar_text or "")))
        return merge_metadata(layers)

    def _read_options(self, run: RunRecord, recipe: Recipe | None = None) -> dict[str, Any]:
        """Reading options: the recipe's parse section, then the sidecar's reader:/axis:/block: fields."""
        options: dict[str, Any] = {}
        if recipe is not None:
            options.update({k: v for k, v in (("reader", recipe.parse.reader), ("axis", recipe.parse.time_column),
                                              ("block", recipe.parse.block)) if v})
        if run.sidecar_name is not None:
            try:
                options.update(reader_options(parse_sidecar_raw(run.sidecar_name, run.sidecar_text or "")))
            except MetadataError:
                pass  # raw_file reports a bad sidecar
        return options

    def raw_series(self, run: RunRecord, recipe: Recipe) -> StepReport:
        """Read the instrument file with the surest reader into a series on its true axis."""
        data = self._table_bytes("raw_series", run)
        options = self._read_options(run, recipe)
        try:
            frame, info = read_series(data, run.original_name, options, recipe.parse.channels)
            if recipe.parse.unsorted_time == "reject" and any(n.startswith("sorted ") for n in info["notes"]):
                raise ReadRefused("the time goes backwards and the recipe says unsorted_time: reject; sort the "
                                  "export by time or set unsorted_time: sort")
        except ReadRefused as error:
            error.file = error.file or run.original_name
            raise self._fail("raw_series", run, str(error), quarantine_data=data) from None
        path = self.outputs.write_frame("raw_series", run.run_key, frame)
        self.outputs.write_json("raw_series_info", run.run_key, info)
        if run.started_at is None and "timestamp" in frame.columns:
            self.catalog.set_metadata(run.run_key, _with_started_at(run, frame["timestamp"][0]))
        self._recipe_by_axis(run, info["axis"]["kind"])
        self.catalog.set_status(run.run_key, "parsed")
        axis = info["axis"]
        values = {"reader": info["reader"], "block": info["block"], "rows": frame.height,
                  "axis": f"{axis['label']} [{axis['kind']}]", "channels": ", ".join(info["channels"]),
                  "notes": "; ".join(info["notes"]) or "none"}
        return StepReport(values=values, path=str(path), markdown={"preview": frame_to_markdown(frame)})

    def _recipe_by_axis(self, run: RunRecord, axis_kind: str) -> None:
        """A run on the default recipe moves to the recipe made for its axis kind (e.g. spectra), if any."""
        current = self.catalog.get_run(run.run_key)
        if current is None or (current.recipe_id or DEFAULT_RECIPE_ID) != DEFAULT_RECIPE_ID:
            return
        recipe = self.recipes.for_run(instrument=current.instrument, axis_kind=axis_kind)
        if recipe.id != DEFAULT_RECIPE_ID:
            self.catalog.set_recipe(run.run_key, recipe.id, recipe.content_hash)

    def clean_series(self, run: RunRecord, recipe: Recipe) -> StepReport:
        """Rolling-mean smoothing (and optional baseline removal) beside the raw channels."""
        cleaned = clean(self._read("clean_series", run.run_key, "raw_series"), recipe)
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
        try:
            found = find_peaks(cleaned, recipe)
        except UnknownChannel as error:
            raise self._fail("peaks", run, f"recipe {recipe.id!r} asks for channel {error.channel!r}; "
                             f"the file has {', '.join(error.known)}") from None
        channel, result = found.channel, found.peaks
        table = result.table.with_columns(pl.lit(channel).alias("channel"))
        path = self.outputs.write_frame("peaks", run.run_key, table)
        axis = self.series_info(run.run_key).get("axis", {})
        png = render_run_png(cleaned, channel, table, title=f"{run.original_name} · {channel}",
                             x_label=axis.get("label", "time (s)"), baseline=result.baseline,
                             log_y=recipe.peaks.counting)
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

    def quality_report(self, run: RunRecord, recipe: Recipe) -> StepReport:
        """Quality flags and a 0–1 score, with asset checks on the same numbers."""
        raw = self._read("quality_report", run.run_key, "raw_series")
        info = self.series_info(run.run_key)
        channels = value_channels(raw)
        report = assess_quality(raw, channels, recipe.quality,
                                main=recipe.peaks.channel if recipe.peaks.channel in channels else None,
                                duplicate_rows_dropped=int(info.get("duplicate_rows_dropped", 0)),
                                reader_notes=info.get("notes", []))
        path = self.outputs.write_json("quality_report", run.run_key, report.to_dict())
        self.catalog.set_quality(run.run_key, report.score, list(report.flags), needs_review=bool(report.defects))
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
