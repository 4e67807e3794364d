"""Small renderers for what people read in the Dagster UI: markdown tables and bullet lists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def frame_to_markdown(frame: pl.DataFrame, max_rows: int = 10) -> str:
    """The first ``max_rows`` rows of a frame as a markdown table, with a row-count footer."""
    head = frame.head(max_rows)
    lines = [
        "| " + " | ".join(head.columns) + " |",
        "|" + "|".join("---" for _ in head.columns) + "|",
    ]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in head.iter_rows()]
    if frame.height > max_rows:
        lines.append(f"\n_{max_rows} of {frame.height:,} rows_")
    return "\n".join(lines)


def mapping_to_markdown(values: Mapping[str, Any]) -> str:
    """A mapping as a two-column markdown table."""
    lines = ["| field | value |", "|---|---|"]
    lines += [f"| {_cell(k)} | {_cell(v)} |" for k, v in values.items()]
    return "\n".join(lines)
