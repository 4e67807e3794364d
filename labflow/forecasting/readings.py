"""A request's readings as columns: epoch seconds, consumption values and covariates, as NumPy arrays.

Two ways in. :func:`readings_from_points` takes readings as dicts with :class:`~datetime.datetime`
timestamps (what Python callers have). :func:`readings_from_json` takes the list a JSON body decoded to
and reads it column by column, without a Python object per reading — the fast path of ``/predict``.
It only accepts the plain shape (every point with the same numeric fields, times like
``2024-03-01T10:00:00`` or ``…Z``) and returns ``None`` for anything else, so the caller can validate
that request the careful way and say exactly what is wrong.

Example::

    readings_from_json([{"timestamp": "2024-03-01T10:00:00Z", "value": 41.2, "temp": 7.5}], values=True)
    # Readings(seconds=array([1709287200]), values=array([41.2]), covariates={'temp': array([7.5])})
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from itertools import chain
from typing import Any

import numpy as np

from labflow.forecasting.model import ForecastRequestError

_EPOCH = datetime(1970, 1, 1)
_SECOND = timedelta(seconds=1)
_NUMBER_TYPES = frozenset({float, int, type(None)})
_PLAIN_TIME_LENGTH = len("2024-03-01T10:00:00")
_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
_SEPARATORS = [4, 7, 10, 13, 16]
_SEPARATOR_BYTES = np.frombuffer(b"--T::", dtype=np.uint8)
_ZERO, _ZULU = ord("0"), ord("Z")
_YEAR_ONE = int(np.datetime64("0001-01-01T00:00:00", "s").astype(np.int64))


@dataclass(frozen=True)
class Readings:
    """Readings in the order they were sent. ``values`` is ``None`` for covariate-only points (a plan);
    ``covariates`` holds every other field by name (NaN where null or not given)."""

    seconds: np.ndarray
    values: np.ndarray | None
    covariates: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.seconds.size)

    def time_text(self, index: int) -> str:
        """The time of reading ``index`` (UTC, ISO 8601), for messages."""
        return (_EPOCH + timedelta(seconds=int(self.seconds[index]))).isoformat()

    def covariate(self, name: str) -> np.ndarray:
        """The covariate's column; all NaN when no reading has it."""
        column = self.covariates.get(name)
        return column if column is not None else np.full(len(self), np.nan)


def readings_from_points(points: Sequence[dict[str, Any]], *, field: str, values: bool = True) -> Readings:
    """Readings from dicts (``{"timestamp": datetime, "value": float | None, <covariate>: float | None}``).

    Raises :class:`ForecastRequestError` naming the first point without a timestamp.
    """
    missing = [i for i, p in enumerate(points) if p.get("timestamp") is None]
    if missing:
        raise ForecastRequestError(f"{field}[{missing[0]}] has no timestamp ({len(missing)} point(s) without one); "
                                   "every reading needs its time, e.g. 2024-03-01T10:00:00Z")
    seconds = np.array([epoch_seconds(p["timestamp"]) for p in points], dtype=np.int64)
    names = {name for point in points for name in point} - {"timestamp", "value"}
    covariates = {name: _floats([p.get(name) for p in points]) for name in sorted(names)}
    return Readings(seconds, _floats([p.get("value") for p in points]) if values else None, covariates)


def readings_from_json(points: Any, *, values: bool) -> Readings | None:
    """Readings from a decoded JSON list, or ``None`` unless every point is a plain, valid reading.

    Plain means: a non-empty list of objects with the same fields, ``timestamp`` as
    ``YYYY-MM-DDTHH:MM:SS`` (optionally ending in ``Z``, all alike) and every other field a finite
    number or null (``value`` too when ``values``). Anything else (time zones, fractions of a second,
    a field only some points have, …) may still be valid: the caller checks it the slow way.
    """
    if type(points) is not list or not points or type(points[0]) is not dict:
        return None
    names = list(points[0])
    if "timestamp" not in names or (values and "value" not in names):
        return None
    try:
        columns = {name: [p[name] for p in points] for name in names}
    except (KeyError, TypeError):  # a point without one of the fields, or not an object
        return None
    if sum(map(len, points)) != len(names) * len(points):  # a point with a field the first one lacks
        return None
    seconds = _plain_epoch_seconds(columns.pop("timestamp"))
    if seconds is None:
        return None
    numbers = list(columns.values())
    if not set(map(type, chain.from_iterable(numbers))) <= _NUMBER_TYPES:
        return None
    try:
        matrix = np.array(numbers, dtype=np.float64).reshape(len(numbers), len(points))  # None → NaN
    except OverflowError:  # an integer too big for a float
        return None
    if np.isinf(matrix).any():
        return None
    named = dict(zip(columns, matrix))
    return Readings(seconds, named.pop("value") if values else None, named)


def epoch_seconds(moment: datetime) -> int:
    """Seconds since 1970 (a time without a zone is UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return (moment - _EPOCH) // _SECOND


def _plain_epoch_seconds(texts: list[Any]) -> np.ndarray | None:
    """Epoch seconds of ``YYYY-MM-DDTHH:MM:SS[Z]`` strings, checked and parsed as one byte matrix, or ``None``."""
    if set(map(type, texts)) != {str}:
        return None
    width = len(texts[0])
    if width not in (_PLAIN_TIME_LENGTH, _PLAIN_TIME_LENGTH + 1) or set(map(len, texts)) != {width}:
        return None
    try:
        raw = np.frombuffer("".join(texts).encode("ascii"), dtype=np.uint8).reshape(len(texts), width)
    except UnicodeEncodeError:
        return None
    if not ((raw[:, _DIGITS] - _ZERO < 10).all() and (raw[:, _SEPARATORS] == _SEPARATOR_BYTES).all()
            and (width == _PLAIN_TIME_LENGTH or (raw[:, -1] == _ZULU).all())):
        return None
    try:  # NumPy refuses what is not a real time (2024-02-30, 25:00)
        parsed = np.ascontiguousarray(raw[:, :_PLAIN_TIME_LENGTH]).view(f"S{_PLAIN_TIME_LENGTH}").ravel()
        seconds = parsed.astype("datetime64[s]").astype(np.int64)
    except ValueError:
        return None
    return seconds if seconds.min() >= _YEAR_ONE else None  # year 0 exists for NumPy, not for Python


def _floats(column: list[Any]) -> np.ndarray:
    return np.array(column, dtype=np.float64)  # None → NaN
