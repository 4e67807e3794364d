"""Operations charts as PNG and tables as CSV, for the dashboard's exports.

Each chart takes the dictionary :func:`labflow.ops.stats.compute_stats` returns and draws on the Agg
canvas (thread-safe, nothing left open), so the API and the app export exactly what they show.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

CHARTS = ("activity", "reviews", "runs_by_status", "quality")
COLORS = {"files": "#3182bd", "duplicates": "#9ecae1", "failed": "#d62728", "confirmed": "#31a354",
          "rejected": "#fd8d3c", "check_failures": "#756bb1"}
STATUS_COLORS = {"processed": "#31a354", "failed": "#d62728", "queued": "#bdbdbd", "processing": "#6baed6",
                 "parsed": "#9ecae1"}


def chart_png(stats: Mapping[str, Any], chart: str) -> bytes:
    """One named chart (see :data:`CHARTS`) of a statistics result, as PNG bytes."""
    if chart not in CHARTS:
        raise ValueError(f"unknown chart {chart!r}; charts are {', '.join(CHARTS)}")
    figure = Figure(figsize=(7.0, 3.2), dpi=100)
    axes = figure.add_axes((0.09, 0.2, 0.88, 0.68))
    period = stats["period"]
    if chart == "activity":
        _bars(axes, stats["by_bucket"], ["files", "duplicates", "failed", "check_failures"])
        axes.set_title(f"Files, duplicates, failures — {period['label']} by {period['bucket']}")
    elif chart == "reviews":
        _lines(axes, stats["by_bucket"], ["confirmed", "rejected"])
        axes.set_title(f"Annotations confirmed and rejected — {period['label']}")
    elif chart == "runs_by_status":
        counts = stats["runs_by_status"]
        if counts:
            axes.pie(list(counts.values()), labels=[f"{k} ({v})" for k, v in counts.items()],
                     colors=[STATUS_COLORS.get(k, "#969696") for k in counts], startangle=90)
        axes.set_title(f"Runs by status — {period['label']}")
    else:
        bins = stats["quality_histogram"]
        axes.bar([b["bin"] for b in bins], [b["runs"] for b in bins], color="#3182bd")
        axes.set_xlabel("quality score")
        axes.set_ylabel("runs")
        axes.set_title(f"Quality score distribution — {period['label']}")
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()


def _bars(axes: Any, rows: Sequence[Mapping[str, Any]], columns: list[str]) -> None:
    labels = [str(r["bucket"]) for r in rows]
    width = 0.8 / len(columns)
    for i, column in enumerate(columns):
        positions = [x + (i - (len(columns) - 1) / 2) * width for x in range(len(rows))]
        axes.bar(positions, [r[column] for r in rows], width=width, label=column.replace("_", " "),
                 color=COLORS[column])
    step = max(1, len(labels) // 10)
    axes.set_xticks(range(0, len(labels), step), labels[::step], rotation=30, ha="right", fontsize=8)
    axes.legend(fontsize=8, ncols=len(columns), loc="upper left", frameon=False)


def _lines(axes: Any, rows: Sequence[Mapping[str, Any]], columns: list[str]) -> None:
    labels = [str(r["bucket"]) for r in rows]
    for column in columns:
        axes.plot(range(len(rows)), [r[column] for r in rows], marker="o", label=column, color=COLORS[column])
    step = max(1, len(labels) // 10)
    axes.set_xticks(range(0, len(labels), step), labels[::step], rotation=30, ha="right", fontsize=8)
    axes.set_ylim(bottom=0)
    axes.legend(fontsize=8, ncols=len(columns), loc="upper left", frameon=False)


def table_csv(rows: Sequence[Mapping[str, Any]] | pl.DataFrame) -> str:
    """Any table (list of dicts or a frame) as CSV text with a header row."""
    frame = rows if isinstance(rows, pl.DataFrame) else pl.DataFrame(list(rows))
    return frame.write_csv()
