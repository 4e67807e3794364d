"""Preprocessing (polars): events to a typed frame in UTC, duplicates dropped, derived fields added."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable

import polars as pl

from labflow.streams.events import Event
from labflow.streams.sources import SourceConfig, SourceConfigError


class SeenIds:
    """The most recent event ids of a source (bounded), to drop re-sent events."""

    def __init__(self, capacity: int = 200_000):
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def fresh(self, ids: Iterable[str]) -> list[bool]:
        """For each id, whether it was not seen before; remembers them."""
        flags = []
        for event_id in ids:
            if event_id in self._ids:
                flags.append(False)
                continue
            self._ids[event_id] = None
            flags.append(True)
        while len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return flags


def prepare_events(events: list[Event], config: SourceConfig, seen: SeenIds | None = None) -> pl.DataFrame:
    """One row per new event: ``event_id``, ``timestamp`` (UTC), ``type``, the fields as floats, derived fields
    and the label (when the source has one), in arrival order. Non-numeric field values become null."""
    if seen is not None:
        keep = seen.fresh(e.event_id for e in events)
        events = [e for e, k in zip(events, keep) if k]
    columns: dict[str, list] = {"event_id": [e.event_id for e in events],
                                "timestamp": [e.timestamp for e in events],
                                "type": [e.type for e in events]}
    for name in config.fields:
        columns[name] = [_number(e.payload.get(name)) for e in events]
    if config.label_field:
        columns["label"] = [bool(e.payload.get(config.label_field)) for e in events]
    schema = {"event_id": pl.String, "timestamp": pl.Datetime("us", "UTC"), "type": pl.String,
              **{name: pl.Float64 for name in config.fields}}
    if config.label_field:
        schema["label"] = pl.Boolean
    frame = pl.DataFrame(columns, schema=schema).unique("event_id", keep="first", maintain_order=True)
    if config.derived:
        try:
            frame = frame.with_columns(pl.sql_expr(expr).cast(pl.Float64).alias(name)
                                       for name, expr in config.derived.items())
            frame = frame.with_columns(pl.when(pl.col(name).is_finite()).then(pl.col(name)).alias(name)
                                       for name in config.derived)  # 0/0 and x/0 become null, not NaN
        except Exception as error:  # polars raises several types for a bad expression
            raise SourceConfigError(f"source {config.name!r}: a derived field cannot be computed ({error}); "
                                    "check 'derived' in its YAML file") from None
    return frame


def _number(value: object) -> float | None:
    """A finite float, or ``None`` for anything else (text, booleans, NaN, infinities, huge integers)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None
