"""Reading the bodies of ``/predict`` and ``/detect_anomalies``: straight into arrays when they are plain.

A forecast request carries hundreds of readings, and ``/predict`` must answer in about the time a
trivial endpoint does. So a body is decoded once (orjson) and, when it has the plain shape (see
:func:`labflow.forecasting.readings.readings_from_json`) and the numbers are within the limits of
:class:`~api.energy_models.PredictIn`, read column by column — no Pydantic object per reading. Any
other body is validated by the Pydantic models, exactly as FastAPI would, so an error names the field
(``body.historical_data.3.timestamp: Field required``) and odd-but-valid bodies (time zones, a point
without a covariate) are served too. The fast path only ever accepts a subset of what the models
accept, and gives the same readings (both tested).

The endpoints take the raw :class:`~fastapi.Request`; :func:`json_body` documents the model as the
request body in the OpenAPI schema and :func:`add_body_schemas` puts the models into its components.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from api.energy_models import MAX_FUTURE_POINTS, MAX_HORIZON, MAX_POINTS, DetectIn, PredictIn
from labflow.forecasting.model import ForecastRequestError
from labflow.forecasting.readings import Readings, readings_from_json, readings_from_points

RAW_BODY_MODELS: tuple[type[BaseModel], ...] = (PredictIn, DetectIn)
_PREDICT_FIELDS = frozenset(PredictIn.model_fields)
_SCHEMAS = "#/components/schemas/{model}"


@dataclass(frozen=True)
class PredictRequest:
    history: Readings
    horizon: int
    future: Readings | None


def read_predict_body(body: bytes) -> PredictRequest:
    """The request's readings, horizon and future covariates; ``RequestValidationError`` or
    ``ForecastRequestError`` (a date that does not exist) when the body is not valid."""
    data = _decode(body)
    if type(data) is dict and "historical_data" in data and data.keys() <= _PREDICT_FIELDS:
        horizon, future_points = data.get("forecast_horizon"), data.get("future_covariates")
        future_points = None if future_points == [] else future_points
        if type(horizon) is int and 1 <= horizon <= MAX_HORIZON and _within(data["historical_data"], MAX_POINTS) \
                and (future_points is None or _within(future_points, MAX_FUTURE_POINTS)):
            history = readings_from_json(data["historical_data"], values=True)
            future = None if future_points is None else readings_from_json(future_points, values=False)
            if history is not None and (future is not None or future_points is None):
                return PredictRequest(history, horizon, future)
    request = _validate(PredictIn, body)
    future = request.future_covariates or None
    return PredictRequest(_readings(request.historical_data, "historical_data", values=True),
                          request.forecast_horizon,
                          None if future is None else _readings(future, "future_covariates", values=False))


def read_detect_body(body: bytes) -> Readings:
    """The readings to check; errors as for :func:`read_predict_body`."""
    data = _decode(body)
    if type(data) is dict and data.keys() == {"data_stream"} and _within(data["data_stream"], MAX_POINTS):
        readings = readings_from_json(data["data_stream"], values=True)
        if readings is not None:
            return readings
    return _readings(_validate(DetectIn, body).data_stream, "data_stream", values=True)


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` declaring ``model`` as the (required, JSON) request body of a raw-body endpoint."""
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": _SCHEMAS.format(model=model.__name__)}}}}}


def add_body_schemas(schema: dict[str, Any]) -> dict[str, Any]:
    """Put the raw-body endpoints' models (and the models they use) into the schema's components."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in RAW_BODY_MODELS:
        document = model.model_json_schema(ref_template=_SCHEMAS, mode="validation")
        components.update(document.pop("$defs", {}))
        components[model.__name__] = document
    return schema


def _decode(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None  # the models' validation says what is wrong with it


def _within(points: Any, most: int) -> bool:
    return type(points) is list and 1 <= len(points) <= most


def _validate(model: type[BaseModel], body: bytes) -> Any:
    """``model`` from the JSON body, or the ``RequestValidationError`` FastAPI would raise for it."""
    try:
        return model.model_validate_json(body)
    except ValidationError as error:
        raise RequestValidationError([{**problem, "loc": ("body", *problem["loc"])}
                                      for problem in error.errors(include_url=False)]) from None


def _readings(points: list[Any], field: str, *, values: bool) -> Readings:
    """Validated points as readings; a date that does not exist (2024-02-30) is named."""
    try:
        return readings_from_points([p.as_dict() for p in points], field=field, values=values)
    except ValueError as error:
        if isinstance(error, ForecastRequestError):
            raise
        bad = next(i for i, p in enumerate(points) if not _parses(p.timestamp))
        raise ForecastRequestError(f"{field}[{bad}].timestamp {points[bad].timestamp!r} is not a real date and "
                                   "time") from None


def _parses(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True
