"""CSV exports that a spreadsheet opens as text, never as formulas (CSV / formula injection).

A cell such as ``=HYPERLINK(...)`` or ``=cmd|' /C calc'!A0`` written as is would be run by Excel or
LibreOffice when a colleague opens the export. Text cells (and column names) that start with ``=``,
``+``, ``@``, a tab or a carriage return, or with ``-`` without being a number, get a leading ``'``.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

_STARTS = r"^[=+@\t\r]"
_NEGATIVE_NUMBER = r"^-(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"


def neutralise(text: str) -> str:
    """``text`` with a leading ``'`` if a spreadsheet would read it as a formula."""
    risky = re.match(_STARTS, text) or (text.startswith("-") and not re.match(_NEGATIVE_NUMBER, text))
    return f"'{text}" if risky else text


def spreadsheet_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with every text cell and column name neutralised (numbers are left as they are)."""
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    def risky(c: str) -> pl.Expr:
        column = pl.col(c)
        return column.str.contains(_STARTS) | (column.str.starts_with("-") & ~column.str.contains(_NEGATIVE_NUMBER))

    safe = frame.with_columns(pl.when(risky(c)).then(pl.lit("'") + pl.col(c)).otherwise(pl.col(c)).alias(c)
                              for c in text)
    return safe.rename({c: neutralise(c) for c in safe.columns if neutralise(c) != c})


def write_safe_csv(frame: pl.DataFrame, target: Path | None = None) -> str | None:
    """``frame.write_csv(target)`` after :func:`spreadsheet_safe` (returns the text when ``target`` is None)."""
    return spreadsheet_safe(frame).write_csv(target)
