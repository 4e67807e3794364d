"""Pictures of a run for the Dagster UI: raw vs cleaned signal with the detected peaks, as PNG.

Figures are built with :class:`matplotlib.figure.Figure` on the Agg canvas (no pyplot, no global
state), so rendering is thread-safe and leaves nothing open. Long series are decimated with
:func:`downsample_minmax` before drawing, which keeps every spike visible.
"""

from __future__ import annotations

import base64
import io
import numpy as np
import polars as pl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from labflow.processing.downsample import downsample_minmax

FIGSIZE_IN = (8.0, 3.0)
DPI = 100
RAW_COLOR = "#9ecae1"
CLEAN_COLOR = "#08306b"
PEAK_COLOR = "#d62728"
BASELINE_COLOR = "#ff7f0e"


def _column(frame: pl.DataFrame, name: str) -> np.ndarray:
    return frame[name].cast(pl.Float64).to_numpy()


def _draw(figure: Figure, frame: pl.DataFrame, channel: str, peaks: pl.DataFrame | None,
          title: str, max_points: int, x_label: str, baseline: np.ndarray | None, log_y: bool) -> None:
    axes = figure.add_subplot(1, 1, 1)
    time_s = _column(frame, "time_s")
    buckets = max(1, max_points // 2)
    axes.plot(*downsample_minmax(time_s, _column(frame, channel), buckets),
              color=RAW_COLOR, linewidth=0.8, label="raw")
    clean = f"{channel}_clean"
    if clean in frame.columns:
        axes.plot(*downsample_minmax(time_s, _column(frame, clean), buckets),
                  color=CLEAN_COLOR, linewidth=1.0, label="cleaned")
    if baseline is not None:
        axes.plot(*downsample_minmax(time_s, baseline, buckets), color=BASELINE_COLOR, linewidth=0.9,
                  linestyle="--", label="baseline")
    if peaks is not None and peaks.height:
        at = _column(peaks, "time_s")
        level = np.interp(at, time_s, np.nan_to_num(baseline)) if baseline is not None else np.zeros(at.size)
        axes.plot(at, _column(peaks, "height") + level, linestyle="none", marker="v",
                  markersize=5, color=PEAK_COLOR, label=f"peaks ({peaks.height})")
    axes.set_title(title, fontsize=9)
    axes.set_xlabel(x_label, fontsize=8)
    axes.set_ylabel(channel + (" (log scale)" if log_y else ""), fontsize=8)
    if log_y:
        axes.set_yscale("symlog", linthresh=1.0)  # zero counts stay on the chart
    axes.tick_params(labelsize=7)
    axes.grid(True, linewidth=0.3, alpha=0.5)
    axes.legend(fontsize=7, loc="upper right", frameon=False)


def run_figure(frame_clean: pl.DataFrame, channel: str, peaks: pl.DataFrame | None, *,
               title: str, max_points: int = 4000, x_label: str = "time (s)",
               baseline: np.ndarray | None = None, log_y: bool = False) -> Figure:
    """The figure :func:`render_run_png` draws (see there for the arguments)."""
    if channel not in frame_clean.columns or "time_s" not in frame_clean.columns:
        raise ValueError(f"render_run_png: the series needs 'time_s' and {channel!r}; "
                         f"it has {', '.join(frame_clean.columns)}")
    figure = Figure(figsize=FIGSIZE_IN, dpi=DPI)
    # Fixed margins: a constrained layout costs a second full draw per picture (~3x slower).
    figure.subplots_adjust(left=0.08, right=0.98, bottom=0.15, top=0.9)
    FigureCanvasAgg(figure)
    _draw(figure, frame_clean, channel, peaks, title, max_points, x_label, baseline, log_y)
    return figure


def render_run_png(frame_clean: pl.DataFrame, channel: str, peaks: pl.DataFrame | None, *,
                   title: str, max_points: int = 4000, x_label: str = "time (s)",
                   baseline: np.ndarray | None = None, log_y: bool = False) -> bytes:
    """PNG (800 x 300 px) of ``channel`` raw (light) and ``<channel>_clean`` (dark) over ``time_s``, peaks marked.

    ``peaks`` is a peak table (``time_s`` and ``height`` columns) or None. At most ``max_points`` points
    per line are drawn (min/max decimation). ``x_label`` names the axis with its unit (the series' axis:
    ``Raman shift (cm-1)``, ``2theta (deg)``, ...). ``baseline`` (one value per row): drawn dashed, and
    the peaks' heights are above it (a spectrum recipe's table). ``log_y``: a logarithmic count axis (linear
    below 1), as counting spectra are read: a weak line beside a strong one stays visible.
    """
    figure = run_figure(frame_clean, channel, peaks, title=title, max_points=max_points, x_label=x_label,
                        baseline=baseline, log_y=log_y)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def png_to_markdown(png: bytes, alt: str) -> str:
    """Markdown image with the PNG inlined as a base64 data URI (rendered by Dagster's markdown metadata)."""
    safe_alt = alt.replace("[", "(").replace("]", ")").replace("\n", " ")
    return f"![{safe_alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"
