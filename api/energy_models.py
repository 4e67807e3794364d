"""Request and response models of the forecasting endpoints (training jobs, predict, anomalies, model versions)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.models import JobState, Strict

AssetId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]
MAX_POINTS = 100_000
MAX_HORIZON = 10_000
MAX_FUTURE_POINTS = 10_000


ISO_TIME = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$"
ReadingTime = Annotated[str, StringConstraints(pattern=ISO_TIME), Field(
    description="ISO 8601, e.g. 2024-03-01T10:00:00Z; without a zone it is taken as UTC.",
    json_schema_extra={"format": "date-time"})]
Reading = Annotated[float | None, Field(allow_inf_nan=False)]


class EnergyPoint(BaseModel):
    """One reading: its time, the consumption (null if missing) and covariates by name (e.g. temp, production).

    Validated without Python callbacks (an ISO 8601 pattern, numbers for every other field), and the time
    parsed by :func:`datetime.fromisoformat`: a request carries hundreds of points and /predict must stay fast.
    """

    model_config = ConfigDict(extra="allow", json_schema_extra={
        "example": {"timestamp": "2024-03-01T10:00:00Z", "value": 41.2, "temp": 7.5, "production": 80}})
    __pydantic_extra__: dict[str, Reading] = Field(init=False)

    timestamp: ReadingTime
    value: Reading = None

    def as_dict(self) -> dict[str, Any]:
        """The reading with its time parsed (``ValueError`` for a date that does not exist, e.g. 2024-02-30)."""
        return {**(self.model_extra or {}), "timestamp": datetime.fromisoformat(self.timestamp), "value": self.value}


class CovariatePoint(BaseModel):
    """Covariates known for a forecast time (a weather forecast, a production plan)."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, Reading] = Field(init=False)

    timestamp: ReadingTime

    def as_dict(self) -> dict[str, Any]:
        return {**(self.model_extra or {}), "timestamp": datetime.fromisoformat(self.timestamp)}


class PredictIn(Strict):
    historical_data: list[EnergyPoint] = Field(min_length=1, max_length=MAX_POINTS,
                                               description="Recent readings, at least a week, on a regular grid.")
    forecast_horizon: int = Field(ge=1, le=MAX_HORIZON, description="How many steps to forecast after the last reading.")
    future_covariates: list[CovariatePoint] | None = Field(
        default=None, max_length=MAX_FUTURE_POINTS,
        description="Covariates at the forecast times, if known (all or some); the others are filled from the same "
        "hour on the latest day or one week earlier, whichever the model found better for that covariate.")


class ForecastPoint(BaseModel):
    timestamp: datetime
    predicted: float
    lower: float
    upper: float


class PredictOut(BaseModel):
    asset_id: str
    model_version: int
    interval: float = Field(description="Nominal coverage of [lower, upper], e.g. 0.9.")
    forecast_data: list[ForecastPoint]


class DetectIn(Strict):
    data_stream: list[EnergyPoint] = Field(min_length=1, max_length=MAX_POINTS,
                                           description="Readings to check, preceded by at least a week of history.")


class AnomalyOut(BaseModel):
    timestamp: datetime
    value: float
    predicted: float
    lower: float
    upper: float
    direction: Literal["above", "below"]
    excess: float = Field(description="How far outside the interval, relative to the bound (0.45 = 45 %).")
    reason: str


class DetectOut(BaseModel):
    asset_id: str
    model_version: int
    checked: int = Field(description="How many readings were checked (those with enough history before them).")
    first_checked: datetime | None
    anomalies: list[AnomalyOut]


class ModelVersionOut(BaseModel):
    asset_id: str
    version: int
    active: bool
    created_at: datetime
    run_id: str
    data_hash: str
    data_url: str | None
    params: dict[str, Any]
    metrics: dict[str, Any]


class AssetModelsOut(BaseModel):
    asset_id: str
    versions: int
    latest: int
    active: int | None
    serving: Literal["compiled", "lightgbm"] | None = Field(
        default=None, description="How this API runs the active model: compiled trees, LightGBM (while compiling, "
                                  "or if compiling failed), or not loaded yet.")


class CompareOut(BaseModel):
    asset_id: str
    metrics: list[str] = Field(description="The metric names, in the order of each row's values.")
    rows: list[dict[str, Any]] = Field(description="One row per version: version, active and each metric.")


class TrainingJobIn(Strict):
    asset_id: AssetId = Field(description="The asset (production line, workshop, building), e.g. line-3.")
    data_url: Annotated[str, StringConstraints(min_length=1, max_length=2000)] = Field(
        description="http(s)://, s3://bucket/key or file:///path of a CSV: timestamp, value, covariates.")
    horizon: int = Field(default=24, ge=1, le=168, description="Longest forecast, in steps of the data.")
    interval: float = Field(default=0.9, ge=0.5, lt=1.0, description="Nominal coverage of the prediction interval.")
    n_estimators: int = Field(default=100, ge=10, le=2000, description="Boosting rounds of each LightGBM model.")


class TrainingJobOut(BaseModel):
    job_id: str
    asset_id: str
    state: JobState
    error: str | None = None
    status_url: str
    dagster_run_url: str
