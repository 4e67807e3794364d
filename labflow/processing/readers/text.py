"""Text helpers shared by the readers: decoding, lines, numbers, ``name (unit)`` headers, axis kinds."""

from __future__ import annotations

import re

import numpy as np
import polars as pl

from labflow.processing.readers.base import ReadRefused

MISSING = frozenset({"", "nan", "na", "n/a", "null", "-", "--", "---", "#n/a", "none"})
NUMBER = re.compile(r"^[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?$|^[+-]?inf(?:inity)?$", re.I)
COMMA_DECIMAL = re.compile(r"^[+-]?\d*,\d+(?:[eE][+-]?\d+)?$")
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_CONTROL = bytes(set(range(32)) - {9, 10, 12, 13})


def decode(data: bytes) -> str:
    """Bytes to text: UTF-16 (BOM), UTF-8 (with or without BOM), else Latin-1; refuse binary files."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16").lstrip("\ufeff")
    if looks_binary(data):
        raise ReadRefused("this is a binary file, not a text export; export the data from the instrument "
                          "software as text (ASCII/CSV)")
    try:
        return data.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError as error:
        if data.startswith(b"\xef\xbb\xbf") or _UTF8_MULTIBYTE.search(data):
            line = data.count(b"\n", 0, error.start) + 1
            raise ReadRefused(f"mixed encodings: line {line} has bytes that are not UTF-8 while other lines are "
                              "UTF-8; save the file again with one encoding (UTF-8)", line=line) from None
        return data.decode("latin-1")


def looks_binary(data: bytes) -> bool:
    """NUL bytes or more than 1 % control bytes in the first 64 kB (UTF-16 is decoded before this)."""
    head = data[:65_536]
    return b"\x00" in head or len(head.translate(None, bytes(set(range(256)) - set(_CONTROL)))) > max(8, len(head) // 100)


def head_text(head: bytes) -> str:
    """A sniffed head as text, never failing (the last line may be cut)."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head[: len(head) // 2 * 2].decode("utf-16", errors="ignore").lstrip("\ufeff")
    return head.decode("utf-8", errors="replace").lstrip("\ufeff")


def lines(text: str) -> list[str]:
    """The lines of a text with any mix of CRLF / LF / CR endings, without their ends."""
    return text.splitlines()


def is_number(cell: str) -> bool:
    return bool(NUMBER.match(cell.strip()))


def is_missing(cell: str) -> bool:
    return cell.strip().lower() in MISSING


def to_float(cell: str, decimal_comma: bool = False) -> float:
    """A number cell to float (``nan`` for a missing marker); ValueError for text."""
    cell = cell.strip()
    if cell.lower() in MISSING:
        return float("nan")
    if decimal_comma:
        cell = cell.replace(",", ".")
    return float(cell)


def floats(cells: list[str], decimal_comma: bool = False) -> np.ndarray:
    """Cells to a float64 array, vectorised; text becomes NaN (callers check with :func:`bad_cells`)."""
    series = pl.Series(cells, dtype=pl.String).str.strip_chars()
    if decimal_comma:
        series = series.str.replace(",", ".", literal=True)
    return series.cast(pl.Float64, strict=False).to_numpy().astype(np.float64)


def missing_mask(cells: list[str]) -> np.ndarray:
    """True where a cell is empty or a missing marker (vectorised)."""
    series = pl.Series(cells, dtype=pl.String).str.strip_chars().str.to_lowercase()
    return series.is_in(sorted(MISSING)).fill_null(True).to_numpy()


def bad_cells(cells: list[str], values: np.ndarray) -> list[int]:
    """Indices of cells that hold something (not a missing marker) that did not read as a number."""
    nan = np.flatnonzero(np.isnan(values))
    if not len(nan):
        return []
    return [i for i in nan if not is_missing(cells[i])]


_BRACKETS = re.compile(r"^(?P<name>.*?\S)\s*(?:\[(?P<square>[^\[\]]*)\]|\((?P<round>[^()]*)\))$")
_SLASH = re.compile(r"^(?P<name>[^/]*[^/\s])\s*/\s*(?P<unit>[^/\s][^/]{0,12})$")
_UNIT_WORD = re.compile(r"^(?:[pnuµμmckMGT]?(?:s|sec|Sec|[Ss]econds|[Mm]inutes|[Hh]ours|min|h|hr|Hz|V|A|W|Wh|Ah|A\.h|J|Pa|bar|Torr|g|L|m|K|°C|degC|C|"
                        r"mol|M|S|Ω|Ohm|ohms?|ohm|AU|au|a\.u\.|counts?|cts|cps|deg|°|rad|eV|%|nm|cm-1|1/cm|"
                        r"F|Ohm-1|mbar|sccm|mAh|mWh|mOhm|Wh/kg))(?:\s*[/·*^]\s*[\w°µ-]+)?$")


def name_and_unit(header: str) -> tuple[str, str]:
    """``'Voltage (V)'``, ``'Cap. [Ah]'``, ``'Ewe/V'`` -> name and unit; ``('Pixels', '')`` without one.

    A ``name/unit`` split is made only when the part after the slash looks like a unit (``ox/red`` stays).
    """
    header = header.strip()
    match = _BRACKETS.match(header)
    if match:
        unit = (match["square"] if match["square"] is not None else match["round"]).strip()
        if match["square"] is not None or _UNIT_WORD.match(unit) or "hh:mm" in unit:
            return match["name"], unit
    match = _SLASH.match(header)
    if match and _UNIT_WORD.match(match["unit"].strip()):
        return match["name"].strip(), match["unit"].strip()
    return header, ""


_KIND_BY_NAME = (
    ("raman_shift", re.compile(r"raman[\s_-]*shift|^shift$", re.I)),
    ("two_theta", re.compile(r"^2[\s_-]*th(?:eta)?|two[\s_-]*theta|^2θ|^angle$", re.I)),
    ("wavenumber", re.compile(r"wave[\s_-]*numbers?$", re.I)),
    ("wavelength", re.compile(r"wave[\s_-]*length|^lambda$|^wl$", re.I)),
    ("frequency", re.compile(r"^freq(?:uency)?\b|^f$", re.I)),
    ("potential", re.compile(r"^(?:potential|ewe|<ewe>|e|e applied|voltage|working electrode potential)$", re.I)),
    ("mass_to_charge", re.compile(r"^m/z$|mass[\s_-]*to[\s_-]*charge", re.I)),
    ("energy", re.compile(r"(?:kinetic|binding|photon)?[\s_-]*energy$|^e[\s_-]*\(?k?ev\)?$", re.I)),
    ("time", re.compile(r"^(?:time|t|elapsed(?:[\s_]time)?|test[\s_]?time|r\.?\s?time|retention[\s_]time|"
                        r"zeit|timestamp|date[\s_]?time|date)$", re.I)),
)
_KIND_BY_UNIT = {"hz": "frequency", "khz": "frequency", "mhz": "frequency", "ghz": "frequency",
                 "nm": "wavelength", "cm-1": "wavenumber", "1/cm": "wavenumber", "ev": "energy",
                 "kev": "energy", "s": "time", "min": "time", "h": "time", "ms": "time"}


def axis_kind_of(name: str, unit: str = "") -> str | None:
    """The axis kind a column's name (or, failing that, its unit) says it is; None when it says nothing."""
    for kind, pattern in _KIND_BY_NAME:
        if pattern.search(name.strip()):
            return kind
    return None


def kind_of_unit(unit: str) -> str | None:
    """The axis kind a unit implies (``Hz`` -> frequency); None when it implies none."""
    return _KIND_BY_UNIT.get(unit.strip().lower())


def unique_names(names: list[str], taken: set[str] | None = None) -> tuple[list[str], list[str]]:
    """Names made unique with ``_2``, ``_3``... and a note per rename."""
    seen, out, notes = set(taken or ()), [], []
    for name in names:
        new, n = name, 2
        while new in seen:
            new, n = f"{name}_{n}", n + 1
        if new != name:
            notes.append(f"renamed column '{name}' to '{new}' (names must be unique)")
        seen.add(new)
        out.append(new)
    return out, notes


def monotonic(values: np.ndarray) -> bool:
    """Strictly rising or strictly falling (NaN-free): usable as an x axis."""
    if len(values) < 2 or np.isnan(values).any():
        return False
    steps = np.diff(values)
    return bool((steps > 0).all() or (steps < 0).all())


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"
