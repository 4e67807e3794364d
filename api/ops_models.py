"""Response and request models of the operations endpoints (stats, alerts, recipes, settings)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.models import Strict

AlertState = Literal["open", "acknowledged", "resolved", "all"]
Severity = Literal["info", "warning", "critical"]
ChartName = Literal["activity", "reviews", "runs_by_status", "quality"]
RecipeFormat = Literal["yaml", "json"]


class StatsPeriod(BaseModel):
    start: datetime
    end: datetime
    label: str
    bucket: Literal["day", "week", "month"]


class Kpis(BaseModel):
    """The numbers of one period (``None`` where there is nothing to measure)."""

    files_ingested: int
    duplicates: int
    runs_failed: int
    runs_processed: int
    check_failures: int
    etl_seconds_per_file_p50: float | None
    etl_seconds_per_file_p95: float | None
    throughput_files_per_hour: float
    mean_quality: float | None
    confirmed: int
    confirmed_per_day: float
    rejected: int
    backlog_awaiting_review: int | None = Field(description="Now (not a period sum); None for the previous period.")


class BucketRow(BaseModel):
    bucket: date
    files: int
    duplicates: int
    failed: int
    confirmed: int
    rejected: int
    check_failures: int


class QualityBin(BaseModel):
    bin: str
    runs: int


class StatsOut(BaseModel):
    """KPIs of the period, of the period before, the relative change (0.25 = +25 %), and per-bucket rows."""

    period: StatsPeriod
    filters: dict[str, str]
    kpis: Kpis
    previous: Kpis
    change: dict[str, float | None]
    by_bucket: list[BucketRow]
    runs_by_status: dict[str, int]
    quality_histogram: list[QualityBin]


class AlertOut(BaseModel):
    id: int
    kind: str
    severity: Severity
    subject: str
    message: str
    first_seen: datetime
    last_seen: datetime
    count: int
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    open: bool


class AcknowledgeIn(Strict):
    by: str = Field(min_length=1, max_length=200, description="Who acknowledges the alert.")


class RecipeOut(BaseModel):
    id: str
    version: int
    content_hash: str
    source: Literal["shipped", "imported"]
    instruments: list[str]
    description: str


class RecipeVersionOut(BaseModel):
    content_hash: str
    version: int
    saved_at: datetime


class RecipeImportIn(Strict):
    text: str = Field(min_length=1, max_length=200_000, description="The recipe as YAML or JSON text.")
    format: RecipeFormat = "yaml"


class SettingOut(BaseModel):
    name: str
    value: str
    source: str
    editable: bool


class SettingsPatch(Strict):
    changes: dict[str, float | int | str | None] = Field(
        min_length=1, max_length=50,
        description="Dotted names: alerts.min_quality, alerts.inbox_max_age_min, alerts.forwarder_stall_min, "
        "default_recipes.<instrument> (empty to remove).")
