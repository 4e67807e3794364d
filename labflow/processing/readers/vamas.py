"""VAMAS (ISO 14976) ``.vms`` surface-analysis files (XPS, AES, ...): positional header lines, then one
block per region with a regular abscissa (start + increment·i) and its corresponding variables interleaved.

Every block's declared ordinate count and each variable's declared minimum and maximum must agree with the
values read, or the file is refused. Irregular scans and parameter inclusion lists are refused (not read).

>>> header = ["VAMAS Surface Chemical Analysis Standard Data Transfer Format 1988 May 4", "lab", "XPS box", "me",
...           "exp", "0", "NORM", "REGULAR", "1", "0", "0", "0", "0", "0", "1"]
>>> block = ["C1s", "sample", "2024", "1", "2", "3", "4", "5", "0", "0", "XPS", "Al", "1486.6", "150", "1E37",
...          "1E37", "1E37", "1E37", "FAT", "20", "1E37", "4.5", "0", "1E37", "1E37", "1E37", "1E37", "C", "1s",
...          "-1", "Kinetic Energy", "eV", "1190", "0.5", "1", "Intensity", "d", "pulse counting", "0.1", "1",
...          "0", "1E37", "1E37", "1E37", "0", "3", "10", "30", "10", "30", "20", "end of experiment"]
>>> parsed = VamasReader().read("\\n".join(header + block).encode(), "c1s.vms", {})
>>> parsed.axis.label, parsed.axis.values.tolist(), parsed.main_channel.values.tolist()
('Kinetic Energy (eV)', [1190.0, 1190.5, 1191.0], [10.0, 30.0, 20.0])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from labflow.processing.readers.base import ReadRefused
from labflow.processing.readers.text import decode, head_text, lines
from labflow.processing.series import Axis, Block, Channel, ParsedFile

_MAP_MODES = ("MAP", "MAPDP", "MAPSV", "MAPSVDP", "SEM")
_SPUTTER_TECHNIQUES = ("FABMS", "FABMS energy spec", "ISS", "SIMS", "SIMS energy spec", "SNMS",
                       "SNMS energy spec")
_SPECTRAL = ("AES diff", "AES dir", "EDX", "ELS", "UPS", "XPS", "XRF")


class _Cursor:
    def __init__(self, text: list[str]) -> None:
        self.text, self.at = text, 0

    def next(self) -> str:
        if self.at >= len(self.text):
            raise ReadRefused("the VAMAS file ends in the middle of a block; it is cut", reader="vamas")
        self.at += 1
        return self.text[self.at - 1].strip()

    def int(self) -> int:
        value = self.next()
        try:
            return int(value)
        except ValueError:
            raise ReadRefused(f"line {self.at}: {value[:40]!r} where the VAMAS layout needs a count; the file "
                              "does not follow ISO 14976 (or uses a variant not read here)", reader="vamas",
                              line=self.at) from None

    def skip(self, count: int) -> None:
        for _ in range(count):
            self.next()


class VamasReader:
    name = "vamas"
    family = "VAMAS ISO 14976 .vms (XPS, AES)"

    def sniff(self, head: bytes, filename: str) -> float:
        return 0.99 if head_text(head[:200]).startswith("VAMAS Surface Chemical Analysis Standard") else 0.0

    def read(self, data: bytes, filename: str, options: Mapping[str, Any]) -> ParsedFile:
        c = _Cursor(lines(decode(data)))
        c.skip(1)
        metadata = {"institution": c.next(), "instrument": c.next(), "operator": c.next(), "experiment": c.next()}
        c.skip(c.int())
        mode, scan = c.next(), c.next()
        if scan != "REGULAR":
            raise ReadRefused(f"scan mode {scan}: only REGULAR VAMAS scans are read", reader=self.name)
        if mode in ("MAP", "MAPDP", "MAPSV", "MAPSVDP", "NORM", "SDP", "SDPSV"):
            c.skip(1)  # number of spectral regions
        if mode in ("MAP", "MAPDP", "MAPSV", "MAPSVDP"):
            c.skip(3)  # analysis positions, discrete x and y coordinates
        variables = c.int()
        c.skip(2 * variables)
        if c.int() != 0:
            raise ReadRefused("VAMAS parameter inclusion/exclusion lists are not read; export without one",
                              reader=self.name)
        c.skip(c.int())  # manually entered items
        experiment_future, block_future = c.int(), c.int()
        c.skip(experiment_future)
        count = c.int()
        metadata |= {"mode": mode, "blocks": str(count)}
        blocks = [_block(c, mode, variables, block_future) for _ in range(count)]
        names = [b.name for b in blocks]
        if len(set(names)) != len(names):
            blocks = [Block(f"{k + 1}: {b.name}", b.axis, b.channels) for k, b in enumerate(blocks)]
        return ParsedFile(self.name, blocks, metadata, [])


def _block(c: _Cursor, mode: str, variables: int, block_future: int) -> Block:
    name, sample = c.next(), c.next()
    c.skip(7)  # date, time, hours from GMT
    c.skip(c.int())  # comment lines
    technique = c.next()
    if mode in ("MAP", "MAPDP"):
        c.skip(2)
    c.skip(variables)
    c.skip(1)  # source label
    if mode in ("MAPDP", "MAPSVDP", "SDP", "SDPSV") or technique in _SPUTTER_TECHNIQUES:
        c.skip(3)
    c.skip(4)  # source energy, strength, beam width x, y
    if mode in _MAP_MODES:
        c.skip(2)
    if mode in ("MAPSV", "MAPSVDP", "SEM"):
        c.skip(6)
    c.skip(3)  # polar angle, azimuth, analyser mode
    c.skip(1)  # pass energy
    if technique == "AES diff":
        c.skip(1)
    c.skip(9)  # magnification, work function, bias, analysis width x, y, take-off polar, azimuth, species, transition
    c.skip(1)  # charge of detected particle
    label, unit, start, step = c.next(), c.next(), float(c.next()), float(c.next())
    corresponding = c.int()
    names = [(c.next(), c.next()) for _ in range(corresponding)]
    c.skip(4)  # signal mode, collection time, scans, time correction
    if technique in _SPECTRAL and mode in ("MAPDP", "MAPSVDP", "SDP", "SDPSV"):
        c.skip(7)
    c.skip(3)  # sample tilt, tilt azimuth, rotation
    c.skip(3 * c.int())  # additional numerical parameters
    c.skip(block_future)
    ordinates = c.int()
    limits = [(float(c.next()), float(c.next())) for _ in range(corresponding)]
    values = np.array([float(c.next()) for _ in range(ordinates)])
    if corresponding == 0 or ordinates % corresponding:
        raise ReadRefused(f"block {name}: {ordinates} values do not split into {corresponding} variables",
                          reader="vamas")
    table = values.reshape(-1, corresponding)
    for k, (low, high) in enumerate(limits):
        found = (table[:, k].min(), table[:, k].max())
        if not np.allclose(found, (low, high), rtol=1e-4, atol=1e-9):
            raise ReadRefused(f"block {name}: {names[k][0]} is declared from {low:g} to {high:g} but the values "
                              f"run from {found[0]:g} to {found[1]:g}; the block is damaged", reader="vamas")
    axis = Axis("energy" if "energy" in label.lower() else "index", label, unit,
                start + step * np.arange(len(table)))
    channels = [Channel(n, "" if u == "d" else u, table[:, k]) for k, (n, u) in enumerate(names)]
    return Block(f"{name} ({sample})" if sample and sample != "Not Specified" else name, axis, channels)
