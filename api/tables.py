"""Tables as CSV or Parquet (``format=csv|parquet``) beside the default JSON."""

from __future__ import annotations

import io
from typing import Any, Literal

import polars as pl
from fastapi import Response

from labflow.spreadsheet_safe import write_safe_csv

TableFormat = Literal["json", "csv", "parquet"]
PARQUET = "application/vnd.apache.parquet"

TABLE_CONTENT: dict[int | str, dict[str, Any]] = {200: {"content": {
    "text/csv": {"schema": {"type": "string"}},
    PARQUET: {"schema": {"type": "string", "format": "binary"}},
}}}
"""``responses=`` entry documenting the CSV and Parquet forms of a 200 answer."""


def table_response(frame: pl.DataFrame, fmt: TableFormat, name: str,
                   headers: dict[str, str] | None = None) -> Response:
    """``frame`` as a CSV or Parquet download named ``name``."""
    body, media_type, download = table_bytes(frame, fmt, name)
    return Response(body, media_type=media_type, headers={**(headers or {}), **download})


def table_bytes(frame: pl.DataFrame, fmt: TableFormat, name: str) -> tuple[bytes, str, dict[str, str]]:
    """The file's bytes, media type and download header; lists of text become ``a|b`` in CSV."""
    if fmt == "csv":
        flat = frame.with_columns([pl.col(c).list.join("|") for c, t in frame.schema.items()
                                   if isinstance(t, pl.List) and t.inner == pl.String])
        return (write_safe_csv(flat) or "").encode(), "text/csv", {"Content-Disposition": f'attachment; filename="{name}.csv"'}
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd")
    return buffer.getvalue(), PARQUET, {"Content-Disposition": f'attachment; filename="{name}.parquet"'}
