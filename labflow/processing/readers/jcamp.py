"""JCAMP-DX spectra (IR, Raman, UV-Vis, NMR, MS): ``##LABEL=`` headers and the data table in any of the
standard's forms — ``(X++(Y..Y))`` in AFFN, PAC, SQZ, DIF and DUP compression, or ``(XY..XY)`` pairs
(``XYDATA``, ``XYPOINTS``, ``PEAK TABLE``).

Written here rather than taken from the MIT ``jcamp`` package: a reader must check what the file declares
(``NPOINTS``, ``FIRSTX``/``LASTX``, each line's X against the abscissa, DIF Y-checks) and refuse on any
disagreement, which that package does not do. Compound files (``##BLOCKS``) and ``NTUPLES`` are refused.

>>> data = b"##TITLE=t\\n##JCAMP-DX=4.24\\n##DATA TYPE=INFRARED SPECTRUM\\n##XUNITS=1/CM\\n##YUNITS=ABSORBANCE\\n" \\
...        b"##XFACTOR=1\\n##YFACTOR=0.001\\n##FIRSTX=1000\\n##LASTX=995\\n##NPOINTS=6\\n##XYDATA=(X++(Y..Y))\\n" \\
...        b"1000@JJ1K\\n997A4J%\\n##END=\\n"
>>> parsed = JcampReader().read(data, "ir.dx", {})
>>> parsed.axis.kind, parsed.axis.values.tolist(), parsed.main_channel.values.tolist()
('wavenumber', [1000.0, 999.0, 998.0, 997.0, 996.0, 995.0], [0.0, 0.001, 0.012, 0.014, 0.015, 0.015])
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from labflow.processing.readers.base import ReadRefused
from labflow.processing.readers.text import decode, head_text, lines
from labflow.processing.series import Axis, Block, Channel, ParsedFile

_LABEL = re.compile(r"^##([^=]*)=(.*)$")
_SQZ = {c: (str(i), "") for i, c in enumerate("@ABCDEFGHI")} | {c: (str(i), "-") for i, c in enumerate("abcdefghi", 1)}
_DIF = {"%": ("0", "")} | {c: (str(i), "") for i, c in enumerate("JKLMNOPQR", 1)} | \
    {c: (str(i), "-") for i, c in enumerate("jklmnopqr", 1)}
_DUP = {c: i for i, c in enumerate("STUVWXYZs", 1)}
_AXES = (("RAMAN", "1/CM", "raman_shift", "Raman shift", "cm-1"), ("", "1/CM", "wavenumber", "Wavenumber", "cm-1"),
         ("", "NANOMETERS", "wavelength", "Wavelength", "nm"), ("", "WAVELENGTH (NM)", "wavelength", "Wavelength", "nm"),
         ("", "NM", "wavelength", "Wavelength", "nm"), ("", "MICROMETERS", "wavelength", "Wavelength", "µm"),
         ("", "HZ", "frequency", "Frequency", "Hz"), ("", "M/Z", "mass_to_charge", "m/z", ""),
         ("", "SECONDS", "time", "Time", "s"), ("", "EV", "energy", "Energy", "eV"))


class JcampReader:
    name = "jcamp"
    family = "JCAMP-DX (IR, Raman, UV-Vis, NMR, MS; AFFN/PAC/SQZ/DIF/DUP)"

    def sniff(self, head: bytes, filename: str) -> float:
        text = head_text(head[:4096])
        return 0.99 if re.search(r"^##JCAMP-?DX\s*=", text, re.M) and text.lstrip().startswith("##") else 0.0

    def read(self, data: bytes, filename: str, options: Mapping[str, Any]) -> ParsedFile:
        labels, table, body = _split(lines(decode(data)))
        for unsupported in ("BLOCKS", "NTUPLES"):
            if unsupported in labels:
                raise ReadRefused(f"JCAMP-DX {unsupported} files (compound or n-dimensional) are not read yet; "
                                  "export one spectrum per file", reader=self.name)
        if table is None:
            raise ReadRefused("a JCAMP-DX file without XYDATA, XYPOINTS or PEAK TABLE", reader=self.name)
        label, form = table
        xf, yf = _number(labels, "XFACTOR", 1.0), _number(labels, "YFACTOR", 1.0)
        if form.replace(" ", "") == "(X++(Y..Y))":
            x, y = _x_plus_plus(body, labels, xf, yf)
        elif form.replace(" ", "") in ("(XY..XY)", "(XY)"):
            x, y = _pairs(body, xf, yf)
        else:
            raise ReadRefused(f"##{label}={form}: this data form is not read; expected (X++(Y..Y)) or (XY..XY)",
                              reader=self.name)
        declared = labels.get("NPOINTS", "").strip()
        if declared and int(float(declared)) != len(y):
            raise ReadRefused(f"##NPOINTS={declared} but the data hold {len(y)} points; the file is cut or "
                              "damaged", reader=self.name)
        _check_declared(labels, x, y)
        kind, name, unit = _axis(labels)
        notes = [] if kind != "index" else [f"unknown XUNITS {labels.get('XUNITS', '')!r}: the axis kind is unknown "
                                            "(index) though the x values are kept"]
        quantity = labels.get("YUNITS", "").strip()
        channel = Channel(quantity.capitalize() if quantity and "ARBITRARY" not in quantity.upper() else "Intensity",
                          "", y)
        block = Block(labels.get("TITLE", "spectrum").strip() or "spectrum", Axis(kind, name, unit, x), [channel])
        return ParsedFile(self.name, [block], {k: v.strip() for k, v in labels.items()}, notes)


def _check_declared(labels: dict[str, str], x: np.ndarray, y: np.ndarray) -> None:
    """FIRSTX, LASTX, FIRSTY, MINY, MAXY (when declared) agree with the data, or the file is refused."""
    span = {"X": float(np.ptp(x)) or 1.0, "Y": float(np.ptp(y)) or 1.0}
    found = {"FIRSTX": x[0], "LASTX": x[-1], "FIRSTY": y[0], "MINY": y.min(), "MAXY": y.max()}
    for key, value in found.items():
        declared = labels.get(key, "").strip()
        if not declared:
            continue
        if abs(float(declared) - value) > 2e-3 * span[key[-1]] + 1e-9 * abs(value):
            raise ReadRefused(f"##{key}={declared} but the data give {value:g}; the data do not agree with the "
                              "header (wrong XFACTOR/YFACTOR or a damaged table)")


def _split(text: list[str]) -> tuple[dict[str, str], tuple[str, str] | None, list[str]]:
    labels: dict[str, str] = {}
    table, body = None, []
    for line in text:
        line = line.split("$$")[0].rstrip()
        match = _LABEL.match(line.strip())
        if match:
            key = re.sub(r"[\s_/-]", "", match[1]).upper() if not match[1].startswith("$") else match[1]
            key = {"DATATYPE": "DATA TYPE", "PEAKTABLE": "PEAK TABLE"}.get(key, key)
            if key in ("XYDATA", "XYPOINTS", "PEAK TABLE"):
                table = (key, match[2].strip())
            elif key != "END":
                labels.setdefault(key, match[2])
            continue
        if table is not None and line.strip():
            body.append(line)
    return labels, table, body


def _number(labels: dict[str, str], key: str, default: float) -> float:
    value = labels.get(key, "").strip()
    return float(value) if value else default


def _axis(labels: dict[str, str]) -> tuple[str, str, str]:
    units = labels.get("XUNITS", "").strip().upper()
    data_type = labels.get("DATA TYPE", "").upper()
    for needs, unit_text, kind, name, unit in _AXES:
        if units == unit_text and needs in data_type:
            return kind, name, unit
    return "index", "x", labels.get("XUNITS", "").strip()


_ASDF = re.compile(r"[@A-DF-Ia-df-i%J-Rj-rS-Zs]")
_TOKENS = {True: re.compile(r"([@A-Ia-i%J-Rj-rS-Zs])(\d*\.?\d*)|([+-]?\d*\.?\d+)"),
           False: re.compile(r"([@A-Ia-i%J-Rj-rS-Zs])(\d*\.?\d*)|([+-]?\d*\.?\d+(?:[eE][+-]?\d+)?)")}


def _values(line: str, line_no: int) -> tuple[list[float], bool]:
    """One data line to numbers, and whether it ended in DIF form (then the next line repeats its last
    value as a Y-check). AFFN / PAC numbers, SQZ digits, DIF differences, DUP repeats are all read."""
    out: list[float] = []
    last_dif: float | None = None
    for letter, digits, plain in _TOKENS[bool(_ASDF.search(line))].findall(line):
        if plain:
            out.append(float(plain))
            last_dif = None
        elif letter in _DUP:
            if not out:
                raise ReadRefused("a repeat (DUP) code with nothing before it", line=line_no)
            count = int(str(_DUP[letter]) + digits)
            for _ in range(count - 1):
                out.append(out[-1] + last_dif if last_dif is not None else out[-1])
        elif letter in _SQZ:
            digit, sign = _SQZ[letter]
            out.append(float(sign + digit + digits))
            last_dif = None
        else:
            digit, sign = _DIF[letter]
            if not out:
                raise ReadRefused("a difference (DIF) code with nothing before it", line=line_no)
            last_dif = float(sign + digit + digits)
            out.append(out[-1] + last_dif)
    return out, last_dif is not None


def _x_plus_plus(body: list[str], labels: dict[str, str], xf: float, yf: float) -> tuple[np.ndarray, np.ndarray]:
    first, last = _number(labels, "FIRSTX", float("nan")), _number(labels, "LASTX", float("nan"))
    ys: list[float] = []
    line_x: list[tuple[int, float]] = []
    check = False
    for number, line in enumerate(body, start=1):
        values, ends_dif = _values(line, number)
        if not values:
            continue
        x, line_ys = values[0], values[1:]
        if check and line_ys:
            if abs(line_ys[0] - ys[-1]) > 1e-9 * max(1.0, abs(ys[-1])):
                raise ReadRefused(f"DIF Y-check failed on data line {number}: it starts with {line_ys[0]:g} but "
                                  f"the line before ended with {ys[-1]:g}; the file is damaged")
            line_ys = line_ys[1:]
            index = len(ys) - 1
        else:
            index = len(ys)
        line_x.append((index, x * xf))
        ys.extend(line_ys)
        check = ends_dif
    n = len(ys)
    if n < 2 or np.isnan(first) or np.isnan(last):
        raise ReadRefused("(X++(Y..Y)) data need ##FIRSTX, ##LASTX and at least two points")
    x_axis = np.linspace(first, last, n)
    step = abs(last - first) / (n - 1)
    for index, x in line_x:
        if abs(x - x_axis[index]) > step * 1.01 + 1e-9 * abs(x):
            raise ReadRefused(f"a data line starts at X={x:g} but point {index + 1} is at {x_axis[index]:g} by "
                              "FIRSTX, LASTX and NPOINTS; the abscissa does not agree with the data")
    return x_axis, np.array(ys) * yf


def _pairs(body: list[str], xf: float, yf: float) -> tuple[np.ndarray, np.ndarray]:
    numbers = [float(v) for line in body for v in re.split(r"[\s,;]+", line.strip()) if v]
    if len(numbers) % 2:
        raise ReadRefused("(XY..XY) data with an odd count of numbers: a pair is cut")
    pairs = np.array(numbers).reshape(-1, 2)
    return pairs[:, 0] * xf, pairs[:, 1] * yf
