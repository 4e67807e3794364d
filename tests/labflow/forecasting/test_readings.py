"""Readings as columns: the fast JSON reader takes only the plain shape and agrees with the dict reader."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from labflow.forecasting.model import ForecastRequestError
from labflow.forecasting.readings import readings_from_json, readings_from_points


def plain(n: int = 5, *, zulu: bool = False) -> list[dict]:
    start = datetime(2024, 3, 1, 10)
    return [{"timestamp": (start + timedelta(hours=i)).isoformat() + ("Z" if zulu else ""),
             "value": 40.0 + i if i != 2 else None, "temp": 7 + i, "production": None}
            for i in range(n)]


@pytest.mark.parametrize("zulu", [False, True])
def test_plain_json_is_read_into_columns(zulu: bool):
    readings = readings_from_json(plain(zulu=zulu), values=True)
    assert readings is not None and len(readings) == 5
    first = int(datetime(2024, 3, 1, 10, tzinfo=timezone.utc).timestamp())
    assert readings.seconds.tolist() == [first + 3600 * i for i in range(5)]
    assert np.array_equal(readings.values, [40.0, 41.0, np.nan, 43.0, 44.0], equal_nan=True)
    assert readings.covariates["temp"].tolist() == [7.0, 8.0, 9.0, 10.0, 11.0]  # integers become floats
    assert np.isnan(readings.covariates["production"]).all()
    assert readings.time_text(1) == "2024-03-01T11:00:00"


def test_the_json_and_the_dict_readers_agree():
    points = plain(30)
    as_dicts = [{**p, "timestamp": datetime.fromisoformat(p["timestamp"])} for p in points]
    fast, careful = readings_from_json(points, values=True), readings_from_points(as_dicts, field="x")
    assert fast is not None
    assert np.array_equal(fast.seconds, careful.seconds)
    assert np.array_equal(fast.values, careful.values, equal_nan=True)
    assert fast.covariates.keys() == careful.covariates.keys()
    for name, column in fast.covariates.items():
        assert np.array_equal(column, careful.covariates[name], equal_nan=True)


def change(index: int, **fields) -> list[dict]:
    points = plain()
    points[index] = {**points[index], **fields}
    return points


@pytest.mark.parametrize(("points", "why"), [
    (change(1, timestamp="2024-03-01T11:00:00+01:00"), "a time zone offset"),
    (change(1, timestamp="2024-03-01T11:00:00.5"), "fractions of a second"),
    (change(1, timestamp="2024-03-01 11:00:00"), "a space for T"),
    (change(1, timestamp="2024-03-01T11:00:0Z"), "a shorter time"),
    (change(1, timestamp="2024-02-30T11:00:00"), "a day that does not exist"),
    (change(1, timestamp="2024-03-01T25:00:00"), "an hour that does not exist"),
    (change(0, timestamp="0000-03-01T11:00:00"), "year 0 (NumPy has it, Python does not)"),
    (change(1, timestamp="2024-03-01T11:00:0١"), "a non-ASCII digit"),
    (change(1, timestamp=1709290800), "a number for a time"),
    (change(1, value=True), "a boolean reading"),
    (change(1, value="41"), "a number as text"),
    (change(1, temp=10**400), "an integer too big for a float"),
    (change(1, wind=3.0), "a field only one point has"),
    ([{k: v for k, v in p.items() if k != "temp"} if i == 3 else p for i, p in enumerate(plain())],
     "a field one point lacks"),
    ([p | {"timestamp": p["timestamp"] + ("Z" if i else "")} for i, p in enumerate(plain())], "Z on some only"),
    ([], "no points"),
    ({"timestamp": "2024-03-01T10:00:00"}, "an object, not a list"),
    ([*plain(2), "2024-03-01T12:00:00"], "a string among the points"),
])
def test_anything_but_the_plain_shape_is_left_to_careful_validation(points, why: str):
    assert readings_from_json(points, values=True) is None, why


def test_values_are_required_only_when_asked_for():
    plan = [{k: v for k, v in p.items() if k != "value"} for p in plain()]
    assert readings_from_json(plan, values=True) is None
    future = readings_from_json(plan, values=False)
    assert future is not None and future.values is None and set(future.covariates) == {"temp", "production"}


def test_the_dict_reader_names_a_point_without_a_time():
    points = [{"timestamp": datetime(2024, 3, 1)}, {"value": 1.0}, {"timestamp": None}]
    with pytest.raises(ForecastRequestError, match=r"x\[1\] has no timestamp \(2 point\(s\) without one\)"):
        readings_from_points(points, field="x")
