"""What a reader returns: blocks of named channels against one true x axis, plus notes and metadata.

A parsed file is one or more :class:`Block` s (a multi-block export — XPS regions, a Gamry file's OCV and
impedance tables, a chromatogram's detector channels — gives every block). Each block has one
:class:`Axis` (its kind says what the x values are: time, wavelength, Raman shift, 2θ, energy, ...) and
named :class:`Channel` s with units. Numeric channels hold float64 arrays; text (label) columns are kept
as text. ``notes`` says, for people, everything the reader could not use, had to invent or skipped.

>>> import numpy as np
>>> block = Block("spectrum", Axis("raman_shift", "Raman shift", "cm-1", np.array([100.0, 101.0, 102.0])),
...               [Channel("Intensity", "counts", np.array([5.0, 9.0, 4.0]))])
>>> parsed = ParsedFile("raman", [block], notes=["the file has no header"])
>>> parsed.axis.label
'Raman shift (cm-1)'
>>> parsed.main_channel.name, parsed.rows
('Intensity', 3)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import polars as pl

AXIS_KINDS = ("time", "wavelength", "wavenumber", "raman_shift", "two_theta", "energy", "channel",
              "frequency", "potential", "mass_to_charge", "index")
"""What an axis' values are. ``index`` is the row number, used only when nothing better exists (noted)."""

CHANNEL_ROLES = ("signal", "axis", "status", "text")
"""``signal``: a measured quantity (peaks, smoothing and quality use these). ``axis``: another x axis of the
same points (a Raman file's pixel and wavelength beside the shift). ``status``: integer codes and counters
(mode, cycle number, current range). ``text``: labels, kept as text."""


@dataclass(frozen=True)
class Axis:
    """The x axis of a block: what it is (``kind``), its name and unit as the file says, and its values.

    A time axis read from clock times or dates keeps the absolute first time in ``start`` and holds the
    seconds since it in ``values``.
    """

    kind: str
    name: str
    unit: str
    values: np.ndarray
    start: datetime | None = None

    def __post_init__(self) -> None:
        if self.kind not in AXIS_KINDS:
            raise ValueError(f"axis kind {self.kind!r} is not one of {', '.join(AXIS_KINDS)}")
        object.__setattr__(self, "values", np.asarray(self.values, dtype=np.float64))

    @property
    def label(self) -> str:
        """``name (unit)``, or the name alone without a unit: the chart's axis label."""
        return f"{self.name} ({self.unit})" if self.unit else self.name

    @property
    def descending(self) -> bool:
        """The values fall (JCAMP IR from 4000 to 400 cm-1, impedance sweeps from high frequency)."""
        return len(self.values) > 1 and self.values[-1] < self.values[0]


@dataclass(frozen=True)
class Channel:
    """One named column of a block: float64 values, or text (object array of ``str``/``None``)."""

    name: str
    unit: str
    values: np.ndarray
    role: str = "signal"

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a channel needs a name")
        if self.role not in CHANNEL_ROLES:
            raise ValueError(f"channel role {self.role!r} is not one of {', '.join(CHANNEL_ROLES)}")
        dtype = object if self.role == "text" else np.float64
        object.__setattr__(self, "values", np.asarray(self.values, dtype=dtype))

    @property
    def is_text(self) -> bool:
        return self.role == "text"

    @property
    def label(self) -> str:
        return f"{self.name} ({self.unit})" if self.unit else self.name


@dataclass(frozen=True)
class Block:
    """One table of a file: an axis and the channels measured at its points (all the same length)."""

    name: str
    axis: Axis
    channels: list[Channel]
    main: str | None = None  # the channel a chart / peak search uses by default; None: first signal

    def __post_init__(self) -> None:
        n = len(self.axis.values)
        names = [self.axis.name]
        for channel in self.channels:
            if len(channel.values) != n:
                raise ValueError(f"block {self.name!r}: channel {channel.name!r} has {len(channel.values)} "
                                 f"values but the axis has {n}")
            if channel.name in names:
                raise ValueError(f"block {self.name!r}: the name {channel.name!r} is used twice")
            names.append(channel.name)
        if self.main is not None and self.main not in names[1:]:
            raise ValueError(f"block {self.name!r}: main channel {self.main!r} is not one of its channels")

    @property
    def rows(self) -> int:
        return len(self.axis.values)

    def channel(self, name: str) -> Channel:
        """The channel called ``name`` (exact, then case-insensitive); KeyError names the choices."""
        for match in (lambda c: c.name == name, lambda c: c.name.casefold() == name.casefold()):
            found = next((c for c in self.channels if match(c)), None)
            if found is not None:
                return found
        raise KeyError(f"no channel {name!r} in block {self.name!r}; channels: "
                       f"{', '.join(c.name for c in self.channels)}")

    @property
    def signals(self) -> list[Channel]:
        """The measured channels with values (never the axis, another axis, a status code, text or an
        empty column)."""
        return [c for c in self.channels if c.role == "signal" and np.isfinite(c.values).any()]

    @property
    def main_channel(self) -> Channel | None:
        """The default channel for charts and peaks: ``main`` or the first signal; None without signals."""
        if self.main is not None:
            return self.channel(self.main)
        return next(iter(self.signals), None)

    def to_frame(self) -> pl.DataFrame:
        """The block as a table: the axis first, then every channel, names as ``name (unit)``."""
        columns = {self.axis.label: self.axis.values}
        for channel in self.channels:
            values = channel.values
            columns[channel.label] = pl.Series(values.tolist(), dtype=pl.String) if channel.is_text else values
        return pl.DataFrame(columns)


@dataclass
class ParsedFile:
    """Everything read from one file: its blocks, the reader's name, metadata and notes."""

    reader: str
    blocks: list[Block]
    metadata: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.blocks:
            raise ValueError("a parsed file needs at least one block")
        names = [b.name for b in self.blocks]
        if len(set(names)) != len(names):
            raise ValueError(f"block names must be unique, got {names}")

    @property
    def block(self) -> Block:
        """The main block: the first one (readers put the main table first)."""
        return self.blocks[0]

    @property
    def axis(self) -> Axis:
        return self.block.axis

    @property
    def channels(self) -> list[Channel]:
        return self.block.channels

    @property
    def main_channel(self) -> Channel | None:
        return self.block.main_channel

    @property
    def rows(self) -> int:
        return self.block.rows

    def block_named(self, name: str) -> Block:
        """The block called ``name``; KeyError names the blocks there are."""
        for block in self.blocks:
            if block.name == name:
                return block
        raise KeyError(f"no block {name!r}; blocks: {', '.join(b.name for b in self.blocks)}")
