"""A parsed file as the pipeline's raw series: one table of the chosen block's axis and measured channels,
and the information (axis kind/name/unit, every channel with unit and role, blocks, notes) stored beside it.

The table's first column is ``time_s`` (the name every downstream step reads): seconds for a time axis
(minutes, hours and milliseconds are converted), the axis' own values and unit otherwise — what they are is
in ``info["axis"]``. A falling axis (an IR spectrum from 4000 to 400 cm-1, an impedance sweep) is turned
to rise (``info["axis"]["reversed"]``). Only measured channels go into the table, the main one first (so it is
the default peak channel, never the axis); status codes, other axes, text and empty columns are listed in
``info["left_out"]`` (nothing is lost: ``info["all_channels"]`` has every channel with unit and role).

>>> import numpy as np
>>> from labflow.processing.series import Axis, Block, Channel, ParsedFile
>>> block = Block("data", Axis("wavenumber", "Wavenumber", "cm-1", np.array([1002.0, 1001.0, 1000.0])),
...               [Channel("Pixel", "", np.arange(3.0), role="axis"), Channel("T", "%", np.array([90.0, 50.0, 91.0]))])
>>> frame, info = series_table(ParsedFile("jcamp", [block]))
>>> frame["time_s"].to_list(), info["axis"]["label"], info["axis"]["reversed"], info["left_out"]
([1000.0, 1001.0, 1002.0], 'Wavenumber (cm-1)', True, ['Pixel'])
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import numpy as np
import polars as pl

from labflow.processing.readers.base import ReadRefused
from labflow.processing.readers.registry import read_file
from labflow.processing.readers.table import TIME_UNITS_IN_SECONDS
from labflow.processing.series import Block, ParsedFile

AXIS_COLUMN = "time_s"


def read_series(data: bytes, name: str, options: Mapping[str, Any] | None = None,
                channels: list[str] | None = None) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Read a file with the surest reader into the pipeline's table and info (raises ReadRefused)."""
    return series_table(read_file(data, name, options), options, channels)


def choose_block(parsed: ParsedFile, name: str | None) -> Block:
    """The block the ``block:`` option names, else the main (first) block."""
    if not name:
        return parsed.block
    try:
        return parsed.block_named(name)
    except KeyError as error:
        raise ReadRefused(f"{error.args[0]}; fix the block: field") from None


def series_table(parsed: ParsedFile, options: Mapping[str, Any] | None = None,
                 channels: list[str] | None = None) -> tuple[pl.DataFrame, dict[str, Any]]:
    """The table and info of one block of ``parsed`` (``options['block']`` picks it)."""
    options = options or {}
    block = choose_block(parsed, options.get("block"))
    notes = list(parsed.notes)
    axis = block.axis
    values, unit = axis.values, axis.unit
    if axis.kind == "time" and unit in TIME_UNITS_IN_SECONDS and unit != "s":
        values, unit = values * TIME_UNITS_IN_SECONDS[unit], "s"
    order = np.arange(block.rows)
    if axis.descending:
        order = order[::-1]
    chosen = _channels(block, channels, notes)
    columns = {AXIS_COLUMN: values[order]}
    if axis.kind == "time" and axis.start is not None and unit == "s":
        columns["timestamp"] = [axis.start + timedelta(seconds=float(v)) for v in values[order]]
    for channel in chosen:
        columns[channel.name] = channel.values[order]
    frame = pl.DataFrame(columns)
    info = {
        "reader": parsed.reader, "block": block.name, "rows": block.rows,
        "axis": {"kind": axis.kind, "name": axis.name, "unit": unit,
                 "label": f"{axis.name} ({unit})" if unit else axis.name,
                 "start": axis.start.isoformat() if axis.start else None, "unit_in_file": axis.unit,
                 "reversed": bool(axis.descending)},
        "channels": [c.name for c in chosen], "units": {c.name: c.unit for c in chosen if c.unit},
        "all_channels": [{"name": c.name, "unit": c.unit, "role": c.role} for c in block.channels],
        "left_out": [c.name for c in block.channels if c not in chosen],
        "blocks": [{"name": b.name, "rows": b.rows, "axis_kind": b.axis.kind} for b in parsed.blocks],
        "metadata": parsed.metadata, "notes": notes,
        "duplicate_rows_dropped": _dropped(notes),
    }
    return frame, info


def _channels(block: Block, wanted: list[str] | None, notes: list[str]):
    if wanted:
        found = []
        for name in wanted:
            try:
                found.append(block.channel(name))
            except KeyError as error:
                raise ReadRefused(f"{error.args[0]}; fix channels in the recipe") from None
        return found
    signals = block.signals
    if not signals:
        why = [n for n in notes if "text among its numbers" in n]
        raise ReadRefused(f"block '{block.name}' has no measured channel (only the axis, status codes, other axes "
                          "or text)" + (f": {'; '.join(why)}; fix those cells" if why else
                                        "; name the channels in the recipe"))
    main = block.main_channel
    return [main] + [c for c in signals if c is not main]


def _dropped(notes: list[str]) -> int:
    for note in notes:
        if note.startswith("dropped ") and "exact duplicate row" in note:
            return int(note.split()[1])
    return 0
