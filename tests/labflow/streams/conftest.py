"""Small generated streams for the stream tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np

from labflow.streams.events import Event
from labflow.streams.sources import SourceConfig, source_from_mapping

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def one_field_source(name: str = "probe", **detectors: dict) -> SourceConfig:
    return source_from_mapping({"name": name, "fields": ["value"], "detectors": detectors}, "test")


def as_events(values, source: str = "probe", start: int = 0, step_s: float = 1.0) -> list[Event]:
    """One event per value, a second apart, ids counting from ``start``."""
    return [Event(str(start + i), source, "measurement", T0 + timedelta(seconds=(start + i) * step_s),
                  {"value": float(v)}) for i, v in enumerate(values)]


def noise(n: int, mean: float = 10.0, sd: float = 1.0, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(mean, sd, n)
