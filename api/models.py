"""Request and response models of every endpoint (they make the OpenAPI schema precise)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timezone
from typing import Annotated, Any, Literal, Union

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt,
                      StringConstraints)

from labflow.review.annotations import Annotation

RunStatus = Literal["queued", "processing", "parsed", "processed", "failed"]
ReviewStatus = Literal["new", "needs_review", "confirmed", "rejected"]
Phase = Literal["space_filling", "model_driven"]
PointState = Literal["recommended", "registered", "ran", "confirmed"]
JobState = Literal["queued", "running", "succeeded", "failed", "canceled"]

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:?\d{2})?$")


def _iso(pattern: re.Pattern[str], example: str) -> Callable[[Any], Any]:
    """Accept only ISO 8601 text (pydantic would also take a number as seconds since 1970)."""

    def check(value: Any) -> Any:
        if isinstance(value, str) and not pattern.match(value):
            raise ValueError(f"write it as ISO 8601, e.g. {example}")
        if isinstance(value, (int, float)):
            raise ValueError(f"write it as ISO 8601 text, e.g. {example}, not a number")
        return value

    return check


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


UtcDateTime = Annotated[datetime, BeforeValidator(_iso(_ISO_DATETIME, "2024-03-01T10:15:00Z")),
                        AfterValidator(_as_utc)]
"""A point in time in a query; without a zone it is taken as UTC."""
IsoDate = Annotated[date, BeforeValidator(_iso(_ISO_DATE, "2024-03-01"))]
Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$")]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
BodyFloat = Annotated[float, Field(strict=True, allow_inf_nan=False)]
"""A number in a JSON body: true/false or "1.5" are refused, not converted."""
ParamName = Annotated[str, StringConstraints(min_length=1, max_length=100)]
ParamValue = Union[StrictBool, StrictInt, BodyFloat, Annotated[str, StringConstraints(max_length=500)]]
Parameters = Annotated[dict[ParamName, ParamValue], Field(min_length=1, max_length=100)]


class Strict(BaseModel):
    """Request bodies refuse unknown fields, so a typo is an error, not a silent no-op."""

    model_config = ConfigDict(extra="forbid")


# -- errors ----------------------------------------------------------------------------------------
class FieldProblem(BaseModel):
    loc: list[str] = Field(description="Where in the request: e.g. ['query', 'limit'].")
    msg: str


class Problem(BaseModel):
    """An error (RFC 9457 problem details)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str = Field(description="What is wrong and what to do about it.")
    instance: str | None = None
    errors: list[FieldProblem] | None = None


# -- runs ------------------------------------------------------------------------------------------
class RunSummary(BaseModel):
    run_key: str
    original_name: str
    instrument: str | None
    operator: str | None
    material: str | None
    experiment_id: str | None
    started_at: datetime | None
    detected_at: datetime
    status: RunStatus
    review_status: ReviewStatus
    annotation_version: int
    quality_score: float | None
    quality_flags: list[str]
    recipe_id: str | None
    error: str | None


class RunPage(BaseModel):
    items: list[RunSummary]
    total: int | None = Field(description="Runs matching the filters, counted on the first page (no cursor) only; "
                                          "null on the pages after it.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class AssetState(BaseModel):
    asset: str
    materialized: bool
    dagster_run_id: str | None = None
    materialized_at: datetime | None = None


class AxisOut(BaseModel):
    kind: str = Field(description="time, wavelength, wavenumber, raman_shift, two_theta, energy, channel, "
                                  "frequency, potential, mass_to_charge or index.")
    name: str
    unit: str = Field(description="Unit of the series' time_s column: seconds for time axes, else the axis' own.")
    label: str
    start: str | None = Field(None, description="Absolute time of the first point (time axes read from dates).")


class ChannelInfo(BaseModel):
    name: str
    unit: str
    role: Literal["signal", "axis", "status", "text"]


class ReadingOut(BaseModel):
    """What the reader made of the run's file: the axis, every channel, the blocks and every note."""

    run_key: str
    reader: str
    block: str = Field(description="The block in the series (multi-block files: pick another with block:).")
    rows: int
    axis: AxisOut
    channels: list[str] = Field(description="The measured channels in the series, the main one first.")
    all_channels: list[ChannelInfo]
    blocks: list[dict[str, Any]]
    notes: list[str] = Field(description="What the reader could not use, inferred or skipped.")
    metadata: dict[str, Any]


class QualityOut(BaseModel):
    run_key: str
    score: float
    flags: list[str]
    metrics: dict[str, float | int | None]
    explanations: dict[str, str]


class AnnotationVersionOut(BaseModel):
    version: int
    base_version: int
    author: str
    created_at: datetime
    annotation: Annotation
    changes: list[str]


class RunDetail(RunSummary):
    sha256: str
    size_bytes: int
    source: str
    sidecar_name: str | None
    params: dict[str, Any]
    recipe_hash: str | None
    updated_at: datetime
    assets: list[AssetState]
    quality: QualityOut | None
    latest_annotation: AnnotationVersionOut | None


class Accepted(BaseModel):
    """The data is not materialized yet: a Dagster run was requested (or is already producing it)."""

    detail: str
    job_id: str
    status_url: str


class JobOut(BaseModel):
    job_id: str
    state: JobState
    dagster_status: str


# -- series, peaks -----------------------------------------------------------------------------------
class ChannelSeries(BaseModel):
    name: str
    time_s: list[float]
    value: list[float | None] = Field(description="null where the instrument recorded no value.")


class SeriesOut(BaseModel):
    run_key: str
    kind: Literal["raw", "clean"]
    method: Literal["minmax", "lttb"] | None = Field(description="Downsampling used; null for every sample.")
    source_points: int = Field(description="Samples in the requested window before downsampling.")
    channels: list[ChannelSeries]


class Peak(BaseModel):
    peak_index: int
    time_s: float
    height: float | None
    prominence: float | None
    width_s: float | None
    area: float | None
    channel: str


class PeaksOut(BaseModel):
    run_key: str
    peaks: list[Peak]


# -- confirmed dataset -------------------------------------------------------------------------------
class Provenance(BaseModel):
    run_key: str
    file_sha256: str
    recipe_id: str | None
    recipe_hash: str | None
    annotation_version: int
    confirmed_by: str
    objective_kind: str | None


class ExperimentPoint(BaseModel):
    """One experiment as an optimiser sees it: inputs, mean objective of its confirmed runs, provenance."""

    experiment_id: str | None
    campaign: str | None
    inputs: dict[str, Any]
    objective: float = Field(description="Mean objective of the experiment's confirmed runs; runs whose "
                                         "objective could not be measured are not in the dataset.")
    run_ids: list[str]
    confirmed_at: datetime
    provenance: list[Provenance]


# -- experiments, recommendations, campaigns ---------------------------------------------------------
class ExperimentIn(Strict):
    experiment_id: Identifier | None = Field(None, description="Omit to get a generated id.")
    campaign: Identifier
    inputs: Parameters
    file_pattern: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        None, description="Glob on the arriving file's name, e.g. `exp7_*.csv`, for files without an "
                          "experiment_id in their sidecar.")


class ExperimentRun(BaseModel):
    run_key: str
    status: RunStatus
    review_status: ReviewStatus


class ExperimentOut(BaseModel):
    experiment_id: str
    campaign: str
    inputs: dict[str, Any]
    file_pattern: str | None
    created_at: datetime
    runs: list[ExperimentRun]


class RecommendationIn(Strict):
    parameters: Parameters
    mean: BodyFloat
    uncertainty: Annotated[float, Field(ge=0, strict=True, allow_inf_nan=False)]
    phase: Phase
    model_version: Annotated[str, StringConstraints(min_length=1, max_length=100)]


class BatchIn(Strict):
    campaign: Identifier
    points: Annotated[list[RecommendationIn], Field(min_length=1, max_length=1000)]


class BatchOut(BaseModel):
    batch_id: int
    campaign: str
    created_at: datetime
    points: list[RecommendationIn]


class PointStatusOut(BaseModel):
    batch_id: int
    position: int
    parameters: dict[str, Any]
    mean: float
    uncertainty: float
    phase: Phase
    model_version: str
    state: PointState
    experiment_ids: list[str]
    run_keys: list[str]
    confirmed_run_keys: list[str]


class CampaignSummary(BaseModel):
    campaign: str
    phase: Phase | None
    model_version: str | None
    experiments: int
    batches: int
    recommended_points: int
    confirmed_points: int


class CampaignOut(CampaignSummary):
    points: list[PointStatusOut]


# -- uploads, health ---------------------------------------------------------------------------------
class UploadOut(BaseModel):
    run_key: str = Field(description="The key the run gets once the inbox sensor picks the file up.")
    file_name: str
    relative_path: str
    sha256: str
    size_bytes: int
    duplicate: bool = Field(description="The same bytes are already a run; no second run is made.")
    status_url: str


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    catalog: bool
    dagster: bool
    auth_required: bool
    etl_mode: Literal["eager", "lazy"]


RunKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,200}$")]
JobId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{1,64}$")]


class RunStatusEvent(BaseModel):
    """A message of the run status stream (``/api/v1/ws/runs``)."""

    run_key: str
    status: Literal["queued", "running", "failed", "done", "confirmed"]
    at: datetime
    error: str | None = None
