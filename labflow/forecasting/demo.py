"""A real-looking energy history for demos and tests: hourly consumption of a workshop with a working-day
shape, a weekly rhythm (quiet weekends), heating that follows the outdoor temperature, and noise."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl


def energy_frame(weeks: int = 5, *, seed: int = 0, start: datetime = datetime(2024, 1, 1),
                 step_minutes: int = 60, scale: float = 1.0) -> pl.DataFrame:
    """``timestamp, value, temp, production`` on a regular grid."""
    rng = np.random.default_rng(seed)
    steps = weeks * 7 * 24 * 60 // step_minutes
    times = [start + timedelta(minutes=step_minutes * i) for i in range(steps)]
    hours = np.array([t.hour + t.minute / 60 for t in times])
    weekday = np.array([t.weekday() for t in times])
    days = np.arange(steps) * step_minutes / 1440
    temp = 5 + 4 * np.sin(2 * np.pi * (hours - 9) / 24) + 3 * np.sin(2 * np.pi * days / 11) + rng.normal(0, 0.5, steps)
    working = (weekday < 5) & (hours >= 7) & (hours < 18)
    production = np.where(working, 80 + rng.normal(0, 5, steps), 0.0)
    value = 20 + 0.4 * production + 1.5 * np.clip(15 - temp, 0, None) + rng.normal(0, 1.2, steps)
    return pl.DataFrame({"timestamp": times, "value": np.round(value * scale, 3), "temp": np.round(temp, 2),
                         "production": np.round(production, 1)})


def energy_csv(weeks: int = 5, **kwargs) -> bytes:
    """The same series as CSV bytes (timestamps ``YYYY-MM-DD HH:MM:SS``)."""
    frame = energy_frame(weeks, **kwargs).with_columns(pl.col("timestamp").dt.strftime("%Y-%m-%d %H:%M:%S"))
    return frame.write_csv().encode()
