"""An asset's consumption history: read a CSV, check it, put it on a regular time grid.

A history has a timestamp column, one value column (``value``, or a column named like ``load_kwh``,
``consumption``, ``energy``) and any number of numeric covariates (``temp``, ``production``,
``air_temperature_c`` …). Problems that make the data unusable raise :class:`HistoryError` naming
the rows; problems that can be lived with (gaps, duplicates, negative or zero readings, single
readings about 1000× too large) are listed in the :class:`HistoryReport` and shown to people.

Example::

    history = read_history_csv(Path("line3.csv").read_bytes(), source="line3.csv")
    history.report.summary()        # '8,760 readings every 1 h, 2 gaps (5 missing), ...'
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

TIMESTAMP_NAMES = ("timestamp", "time", "datetime", "date_time", "date")
VALUE_HINTS = ("kwh", "load", "consumption", "energy", "power", "wh")
UNIT_JUMP_FACTOR = 300.0  # a daily median changing by this much (either way) is a unit change, not a process
MAX_LISTED = 5


class HistoryError(ValueError):
    """The history cannot be used: what is wrong, where (rows), and what to do."""


@dataclass(frozen=True)
class Gap:
    """Missing readings between two present ones."""

    after: datetime
    before: datetime
    missing: int


@dataclass(frozen=True)
class HistoryReport:
    """What was found while checking a history (all row numbers are lines of the file, header = 1)."""

    readings: int
    start: datetime
    end: datetime
    step_s: int
    gaps: tuple[Gap, ...] = ()
    duplicate_rows: tuple[int, ...] = ()
    negative_rows: tuple[int, ...] = ()
    zero_rows: tuple[int, ...] = ()
    spike_rows: tuple[int, ...] = ()
    unordered: bool = False

    @property
    def missing(self) -> int:
        return sum(g.missing for g in self.gaps)

    def warnings(self) -> list[str]:
        """Each problem as a sentence a person can act on."""
        notes = []
        if self.gaps:
            first = self.gaps[0]
            notes.append(f"{len(self.gaps)} gap(s), {self.missing} missing reading(s); the first after "
                         f"{first.after:%Y-%m-%d %H:%M} ({first.missing} missing)")
        if self.duplicate_rows:
            notes.append(f"{len(self.duplicate_rows)} duplicate timestamp(s) (rows {_rows(self.duplicate_rows)}): "
                         "the last reading of each was kept")
        if self.negative_rows:
            notes.append(f"{len(self.negative_rows)} negative reading(s) (rows {_rows(self.negative_rows)}): "
                         "treated as missing; consumption cannot be negative")
        if self.zero_rows:
            notes.append(f"{len(self.zero_rows)} reading(s) of exactly 0 in runs of 3 or more "
                         f"(rows {_rows(self.zero_rows)}): missing data written as 0?")
        if self.spike_rows:
            notes.append(f"{len(self.spike_rows)} reading(s) about 1000× the usual level "
                         f"(rows {_rows(self.spike_rows)}): written in Wh instead of kWh?")
        if self.unordered:
            notes.append("rows were not in time order; they were sorted")
        return notes

    def summary(self) -> str:
        """One line: how many readings, how often, from when to when, and the problems."""
        head = (f"{self.readings:,} readings every {_duration(self.step_s)}, "
                f"{self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M}")
        return "; ".join([head, *self.warnings()])

    def as_metadata(self) -> dict[str, Any]:
        """Plain values for materialization metadata."""
        return {"readings": self.readings, "start": f"{self.start:%Y-%m-%d %H:%M}",
                "end": f"{self.end:%Y-%m-%d %H:%M}", "step_s": self.step_s, "gaps": len(self.gaps),
                "missing_readings": self.missing, "duplicates": len(self.duplicate_rows),
                "negative_readings": len(self.negative_rows), "zero_readings": len(self.zero_rows),
                "spikes_x1000": len(self.spike_rows), "problems": "; ".join(self.warnings()) or "none"}


@dataclass(frozen=True)
class EnergyHistory:
    """A checked history on a regular grid: ``timestamp``, ``value`` and the covariates (Float64, nulls
    where a reading is missing), with what was found while checking it."""

    frame: pl.DataFrame
    step_s: int
    covariates: tuple[str, ...]
    report: HistoryReport
    data_hash: str = ""

    @property
    def values(self) -> np.ndarray:
        return self.frame["value"].to_numpy().astype(np.float64)

    def covariate_matrix(self) -> np.ndarray:
        """The covariates as an ``(n, k)`` float array (NaN where missing)."""
        if not self.covariates:
            return np.empty((self.frame.height, 0))
        return self.frame.select(self.covariates).to_numpy().astype(np.float64)


def data_hash(data: bytes) -> str:
    """The SHA-256 of the bytes a history was read from (identifies the training data of a version)."""
    return hashlib.sha256(data).hexdigest()


def read_history_csv(data: bytes, *, source: str = "the file", value_column: str | None = None) -> EnergyHistory:
    """Read and check a history CSV; raise :class:`HistoryError` with row numbers if it cannot be used."""
    try:
        raw = pl.read_csv(io.BytesIO(data), infer_schema=False, truncate_ragged_lines=False)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError):
        raise HistoryError(f"{source} cannot be read as CSV (a header line, then one reading per line, "
                           "comma-separated)") from None
    if raw.height == 0:
        raise HistoryError(f"{source} has a header but no rows")
    time_column = _find_time_column(raw.columns, source)
    value_name = value_column or _find_value_column([c for c in raw.columns if c != time_column], source)
    if value_name not in raw.columns:
        raise HistoryError(f"{source} has no column {value_name!r}; its columns are {', '.join(raw.columns)}")
    lines = pl.int_range(2, raw.height + 2, eager=True).alias("line")
    typed = raw.with_columns(lines).select(
        "line", _parse_timestamps(raw[time_column], source).alias("timestamp"),
        *(_parse_numbers(raw[c], source).alias("value" if c == value_name else c)
          for c in raw.columns if c != time_column))
    covariates = tuple(c for c in typed.columns if c not in ("line", "timestamp", "value"))
    history = check_history(typed, covariates, source=source)
    return EnergyHistory(history.frame, history.step_s, covariates, history.report, data_hash(data))


def check_history(typed: pl.DataFrame, covariates: tuple[str, ...], *, source: str = "the data",
                  step_s: int | None = None) -> EnergyHistory:
    """Sort, de-duplicate and put a typed history (``line``, ``timestamp``, ``value``, covariates) on a grid.

    ``step_s`` fixes the grid step (a model's); by default it is the most common step of the data.
    """
    if "line" not in typed.columns:
        typed = typed.with_row_index("line", offset=1).with_columns(pl.col("line").cast(pl.Int64))
    unordered = not typed["timestamp"].is_sorted()
    typed = typed.sort("timestamp", maintain_order=True)
    duplicated = typed.filter(pl.col("timestamp").is_duplicated() & ~pl.col("timestamp").is_last_distinct())
    typed = typed.unique("timestamp", keep="last", maintain_order=True)
    if typed.height < 3:
        raise HistoryError(f"{source} has {typed.height} distinct timestamp(s); send at least a week of readings")
    step_s = step_s or _common_step(typed["timestamp"], source)
    _check_grid(typed, step_s, source)
    _check_unit_change(typed, source)
    negative = typed.filter(pl.col("value") < 0)["line"]
    typed = typed.with_columns(pl.when(pl.col("value") < 0).then(None).otherwise(pl.col("value")).alias("value"))
    grid = pl.datetime_range(typed["timestamp"][0], typed["timestamp"][-1], f"{step_s}s", eager=True,
                             time_unit="us").alias("timestamp").to_frame()
    frame = grid.join(typed, on="timestamp", how="left").sort("timestamp")
    report = HistoryReport(
        readings=typed.height, start=typed["timestamp"][0], end=typed["timestamp"][-1], step_s=step_s,
        gaps=_gaps(typed["timestamp"], step_s), duplicate_rows=tuple(duplicated["line"].to_list()),
        negative_rows=tuple(negative.to_list()), zero_rows=_zero_runs(typed), spike_rows=_spikes(typed),
        unordered=unordered)
    return EnergyHistory(frame.select("timestamp", "value", *covariates), step_s, covariates, report)


def _find_time_column(columns: list[str], source: str) -> str:
    lowered = {c.strip().lower(): c for c in columns}
    for name in TIMESTAMP_NAMES:
        if name in lowered:
            return lowered[name]
    raise HistoryError(f"{source} has no timestamp column; name one of its columns 'timestamp' "
                       f"(its columns are {', '.join(columns)})")


def _find_value_column(columns: list[str], source: str) -> str:
    for column in columns:
        if column.strip().lower() == "value":
            return column
    hinted = [c for c in columns if any(h in c.lower() for h in VALUE_HINTS)]
    if len(hinted) == 1:
        return hinted[0]
    raise HistoryError(f"{source}: which column is the consumption? Name it 'value' "
                       f"(its columns are {', '.join(columns)})")


def _parse_timestamps(column: pl.Series, source: str) -> pl.Series:
    text = column.str.strip_chars()
    parsed = None
    for fmt in (None, "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M"):
        try:
            candidate = text.str.to_datetime(format=fmt, strict=False, time_unit="us")
        except pl.exceptions.PolarsError:
            continue
        if parsed is None or candidate.null_count() < parsed.null_count():
            parsed = candidate
    if parsed is None:
        raise HistoryError(f"{source}: the timestamps cannot be read; write them as ISO 8601, "
                           "e.g. 2024-03-01 10:00:00")
    if parsed.dtype.time_zone is not None:  # type: ignore[union-attr]
        parsed = parsed.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    bad = np.flatnonzero((parsed.is_null()).to_numpy())
    if bad.size:
        shown = ", ".join(f"row {i + 2} ({column[int(i)]!r})" for i in bad[:MAX_LISTED])
        raise HistoryError(f"{source}: {bad.size} timestamp(s) missing or unreadable: {shown}; write them as "
                           "ISO 8601, e.g. 2024-03-01 10:00:00")
    return parsed


def _parse_numbers(column: pl.Series, source: str) -> pl.Series:
    text = column.str.strip_chars()
    numbers = text.cast(pl.Float64, strict=False)
    bad = np.flatnonzero((numbers.is_null() & text.is_not_null() & (text != "")).to_numpy())
    if bad.size:
        shown = ", ".join(f"row {i + 2} ({column[int(i)]!r})" for i in bad[:MAX_LISTED])
        raise HistoryError(f"{source}: column {column.name!r} has {bad.size} value(s) that are not numbers: "
                           f"{shown}; use a dot as decimal separator and leave missing readings empty")
    return numbers.fill_nan(None)


def _common_step(timestamps: pl.Series, source: str) -> int:
    steps = timestamps.diff().dt.total_seconds().drop_nulls()
    middle = steps.median()
    step = int(min(steps.mode().to_list(), key=lambda s: abs(s - middle)))  # the most common; ties: nearest median
    if step < 60 or 86_400 % step:
        raise HistoryError(f"{source}: readings come every {_duration(step)}; use a step that divides a day "
                           "(e.g. 15 min or 1 h)")
    return step


def _check_grid(typed: pl.DataFrame, step_s: int, source: str) -> None:
    start = typed["timestamp"][0]
    offsets = (typed["timestamp"] - start).dt.total_seconds() % step_s
    off = typed.filter(offsets != 0)
    if off.height:
        listed = off.select("line", "timestamp").head(MAX_LISTED).iter_rows()
        shown = ", ".join(f"row {r} ({t:%Y-%m-%d %H:%M:%S})" for r, t in listed)
        raise HistoryError(f"{source}: {off.height} timestamp(s) are off the {_duration(step_s)} grid: {shown}; "
                           "send readings at regular times")


def _check_unit_change(typed: pl.DataFrame, source: str) -> None:
    daily = (typed.group_by(pl.col("timestamp").dt.truncate("1d").alias("day"))
             .agg(pl.col("value").median(), pl.col("line").min()).sort("day")
             .filter(pl.col("value") > 0))
    ratio = daily["value"] / daily["value"].shift(1)
    jumps = daily.with_columns(ratio.alias("ratio")).filter(
        (pl.col("ratio") >= UNIT_JUMP_FACTOR) | (pl.col("ratio") <= 1 / UNIT_JUMP_FACTOR))
    if jumps.height:
        day, median, line, factor = jumps.row(0)
        previous = median / factor
        raise HistoryError(f"{source}: from row {line} ({day:%Y-%m-%d}) the readings are about ×{factor:,.0f} "
                           f"the day before (daily median {previous:.4g} → {median:.4g}): the unit probably "
                           "changed (kWh ↔ Wh); convert everything to one unit and upload again")


def _gaps(timestamps: pl.Series, step_s: int) -> tuple[Gap, ...]:
    steps = timestamps.diff().dt.total_seconds()
    index = np.flatnonzero((steps > step_s).fill_null(False).to_numpy())
    return tuple(Gap(timestamps[int(i) - 1], timestamps[int(i)], int(steps[int(i)] // step_s) - 1) for i in index)


def _zero_runs(typed: pl.DataFrame) -> tuple[int, ...]:
    zero = (typed["value"] == 0).fill_null(False)
    run_id = (zero != zero.shift(1)).fill_null(True).cum_sum()
    runs = typed.select("line").with_columns(zero.alias("zero"), run_id.alias("run"))
    long = runs.filter(pl.col("zero") & (pl.len().over("run") >= 3))
    return tuple(long["line"].to_list())


def _spikes(typed: pl.DataFrame) -> tuple[int, ...]:
    level = typed["value"].median()
    if level is None or level <= 0:
        return ()
    return tuple(typed.filter(pl.col("value") >= UNIT_JUMP_FACTOR * level)["line"].to_list())


def _rows(rows: tuple[int, ...]) -> str:
    shown = ", ".join(str(r) for r in rows[:MAX_LISTED])
    return shown + (", …" if len(rows) > MAX_LISTED else "")


def _duration(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"
