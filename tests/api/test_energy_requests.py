"""Reading /predict and /detect_anomalies bodies: the fast path accepts nothing the models refuse, and reads
what it accepts exactly as the models do (property-based: random edits of a valid body)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pytest
from fastapi.exceptions import RequestValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.energy_models import DetectIn, PredictIn
from api.energy_requests import add_body_schemas, read_detect_body, read_predict_body
from labflow.forecasting.model import ForecastRequestError
from labflow.forecasting.readings import Readings, readings_from_points

START = datetime(2024, 3, 1)
TIMES = st.one_of(
    st.integers(0, 400).map(lambda h: (START + timedelta(hours=h)).isoformat()),
    st.integers(0, 400).map(lambda h: (START + timedelta(hours=h)).isoformat() + "Z"),
    st.sampled_from(["2024-03-01T10:00:00+02:00", "2024-03-01 10:00:00", "2024-03-01T10:00", "2024-03-01T10:00:00.25",
                     "2024-02-30T10:00:00", "2024-03-01T24:00:00", "0000-01-01T00:00:00", "yesterday", "",
                     "2024-03-01T10:00:00z"]),
    st.integers(), st.none(), st.booleans())
NUMBERS = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-10**6, 10**6), st.none(),
                    st.booleans(), st.sampled_from(["12.5", "", 10**400]))
FIELDS = st.sampled_from(["timestamp", "value", "temp", "production"])


def valid_body(points: int = 24) -> dict:
    return {"historical_data": [{"timestamp": (START + timedelta(hours=i)).isoformat(), "value": 40.0 + i,
                                 "temp": 7.5, "production": i % 3} for i in range(points)], "forecast_horizon": 6}


EDITS = st.lists(st.one_of(
    st.tuples(st.just("time"), st.integers(0, 23), TIMES),
    st.tuples(st.just("number"), st.integers(0, 23), st.tuples(st.sampled_from(["value", "temp", "production",
                                                                                "wind"]), NUMBERS)),
    st.tuples(st.just("drop"), st.integers(0, 23), FIELDS),
    st.tuples(st.just("horizon"), st.just(0), st.one_of(st.integers(-5, 20_000), st.floats(), st.text(max_size=3),
                                                         st.none())),
    st.tuples(st.just("future"), st.just(0), st.one_of(st.none(), st.just([]), st.lists(st.fixed_dictionaries(
        {"timestamp": TIMES, "temp": NUMBERS}), max_size=3), st.integers())),
    st.tuples(st.just("extra"), st.just(0), st.sampled_from(["horizon", "data_stream"])),
), max_size=4)


def apply(body: dict, edits: list) -> bytes:
    for kind, index, change in edits:
        point = body["historical_data"][index]
        if kind == "time":
            point["timestamp"] = change
        elif kind == "number":
            point[change[0]] = change[1]
        elif kind == "drop":
            point.pop(change, None)
        elif kind == "horizon":
            body["forecast_horizon"] = change
        elif kind == "future":
            body["future_covariates"] = change
        else:
            body[change] = 1
    return json.dumps(body).encode()


def careful(model, body: bytes, field: str) -> Readings:
    """What the Pydantic models alone make of ``body``: the reference the fast path must agree with."""
    request = model.model_validate_json(body)
    [p.as_dict() for p in getattr(request, "future_covariates", None) or []]  # a date that does not exist: refused
    return readings_from_points([p.as_dict() for p in getattr(request, field)], field=field)


def outcome(read, *args, refused=(RequestValidationError, ForecastRequestError)):
    """What ``read`` returns, or the type of the refusal (anything else, e.g. a bare ValueError, fails the test)."""
    try:
        return read(*args)
    except refused as error:
        return type(error)


def same(a: Readings, b: Readings) -> bool:
    values_equal = a.values is b.values is None or np.array_equal(a.values, b.values, equal_nan=True)
    return (np.array_equal(a.seconds, b.seconds) and values_equal
            and all(np.array_equal(a.covariate(n), b.covariate(n), equal_nan=True)
                    for n in {*a.covariates, *b.covariates}))


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EDITS)
def test_the_fast_path_agrees_with_the_models(edits):
    body = apply(valid_body(), edits)
    ours, reference = outcome(read_predict_body, body), outcome(careful, PredictIn, body, "historical_data", refused=ValueError)
    if isinstance(reference, type):
        assert isinstance(ours, type), f"accepted a body the models refuse ({reference.__name__}): {edits}"
    else:
        assert not isinstance(ours, type), f"refused a valid body: {edits}"
        assert same(ours.history, reference)
        request = PredictIn.model_validate_json(body)
        assert ours.horizon == request.forecast_horizon
        if request.future_covariates:
            plan = readings_from_points([p.as_dict() for p in request.future_covariates], field="f", values=False)
            assert ours.future is not None and same(ours.future, plan)
        else:
            assert ours.future is None


@settings(max_examples=150, deadline=None)
@given(EDITS)
def test_detect_bodies_agree_with_the_model(edits):
    body = valid_body()
    apply(body, [edit for edit in edits if edit[0] in ("time", "number", "drop")])
    stream = json.dumps({"data_stream": body["historical_data"]}).encode()
    ours, reference = outcome(read_detect_body, stream), outcome(careful, DetectIn, stream, "data_stream", refused=ValueError)
    assert isinstance(ours, type) == isinstance(reference, type)
    if not isinstance(reference, type):
        assert same(ours, reference)


def test_errors_name_the_field_as_fastapi_would():
    body = valid_body()
    body["historical_data"][3].pop("timestamp")
    with pytest.raises(RequestValidationError) as caught:
        read_predict_body(json.dumps(body).encode())
    assert [e["loc"] for e in caught.value.errors()] == [("body", "historical_data", 3, "timestamp")]
    with pytest.raises(RequestValidationError) as caught:
        read_predict_body(b"{not json")
    assert caught.value.errors()[0]["type"] == "json_invalid"
    body = valid_body()
    body["historical_data"][2]["timestamp"] = "2024-02-30T10:00:00"
    with pytest.raises(ForecastRequestError, match=r"historical_data\[2\].timestamp '2024-02-30T10:00:00' is not a real"):
        read_predict_body(json.dumps(body).encode())


def test_the_schema_documents_the_raw_bodies():
    schema = add_body_schemas({"components": {"schemas": {}}})["components"]["schemas"]
    assert schema["PredictIn"]["properties"]["historical_data"]["items"] == {"$ref": "#/components/schemas/EnergyPoint"}
    assert {"EnergyPoint", "CovariatePoint", "DetectIn"} <= schema.keys()
