"""Chart data for the run view: downsampled channels on a shared time axis, peak and interval markers,
and a histogram of values. Plain functions returning pandas frames for Gradio's native plots.

Gradio's ``LinePlot`` (6.31) thins data of 1,000 rows or more in the browser (min/max of 250 buckets
per series), which would cut the marker segments apart; the server therefore sends at most
:data:`MAX_CHART_ROWS` rows, chosen by min/max downsampling of the visible window only. Zooming
asks for the new window, so detail comes back as you zoom in; the x axis follows the data sent.

Markers are short vertical segments in their own series, separated by empty (null) rows so that
the line breaks between them: peaks a little above the signal, anomaly intervals as bars above it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from labflow.review.annotations import AnomalyInterval
from labflow.processing.downsample import downsample_frame
from labflow.review.session import Preview

MAX_CHART_ROWS = 990
MIN_SERIES_POINTS = 60
MAX_MARKERS = 80
HISTOGRAM_BINS = 40
# (raw, cleaned) colour per channel, in the order channels are shown.
CHANNEL_COLORS = (("#9ecae1", "#08519c"), ("#a1d99b", "#006d2c"), ("#fdd0a2", "#a63603"),
                  ("#cbc9e2", "#54278f"), ("#d9d9d9", "#252525"), ("#c7e9c0", "#00441b"))
PEAK_COLOR = "#d62728"
PREVIEW_COLOR = "#e7298a"
INTERVAL_COLOR = "#ff7f0e"
PROPOSAL_COLOR = "#17becf"
PEAKS_SERIES = "peaks (draft)"
PREVIEW_PEAKS_SERIES = "peaks (preview)"
INTERVALS_SERIES = "anomaly intervals"
PROPOSALS_SERIES = "proposed anomalies (model)"
_IDENTITY = (0.0, 1.0)  # (offset, span) of an unscaled line


@dataclass(frozen=True)
class ChartData:
    """What the line chart shows: long rows (time_s, value, series) of the visible window, and colours."""

    frame: pd.DataFrame
    color_map: dict[str, str]
    caption: str


@dataclass(frozen=True)
class _Line:
    """One line to draw: a column of a frame, its legend name, colour and 0–1 scale (offset, span)."""

    frame: pl.DataFrame
    column: str
    name: str
    color: str
    scale: tuple[float, float]


def series_name(channel: str, kind: str) -> str:
    """The legend label of one line: ``"<channel> · raw"`` or ``"<channel> · cleaned"``."""
    return f"{channel} · {kind}"


def build_chart(frame: pl.DataFrame, channels: Sequence[str], *, show_raw: bool = True, normalise: bool = False,
                window: tuple[float, float] | None = None, marker_channel: str | None = None,
                peaks: Sequence[float] = (), intervals: Sequence[AnomalyInterval] = (),
                preview: Preview | None = None, proposals: Sequence[Any] = ()) -> ChartData:
    """Rows for the line chart of ``channels`` (raw and ``*_clean`` columns of ``frame``) in ``window``.

    Peaks are marked above the cleaned ``marker_channel``; a preview adds its cleaned line and its
    peaks in another colour. ``normalise`` scales every line to 0–1 (over the whole run), for
    channels of different units. ``proposals`` (anything with ``start_s``/``end_s``: the model's
    pre-annotations not yet decided on) are bars in their own colour above the anomaly intervals.
    """
    unknown = [c for c in channels if c not in frame.columns]
    if unknown:
        known = [c for c in frame.columns if c != "time_s" and not c.endswith("_clean")]
        raise KeyError(f"unknown channel(s) {', '.join(unknown)}; the run has {', '.join(known)}")
    if not channels:
        raise ValueError("choose at least one channel to show")
    time_s = frame["time_s"].cast(pl.Float64).to_numpy()
    start, end = _window(time_s, window)
    lines = _lines(frame, channels, show_raw, normalise)
    marked = _marked_line(frame, marker_channel, normalise)
    markers = [(PEAKS_SERIES, PEAK_COLOR, marked, [t for t in peaks if start <= t <= end])]
    if preview is not None:
        column = f"{preview.channel}_clean"
        scale = _scale(preview.cleaned[column]) if normalise else _IDENTITY
        line = _Line(preview.cleaned, column, series_name(preview.channel, "preview"), PREVIEW_COLOR, scale)
        lines.append(line)
        markers.append((PREVIEW_PEAKS_SERIES, PREVIEW_COLOR, line,
                        [t for t in preview.peak_times if start <= t <= end]))
    marker_count = sum(len(times) for *_, times in markers)
    too_many = marker_count > MAX_MARKERS
    shown_intervals = [i for i in intervals if i.end_s >= start and i.start_s <= end]
    shown_proposals = [p for p in proposals if p.end_s >= start and p.start_s <= end]
    reserved = (0 if too_many else 4 * marker_count) + 4 * (len(shown_intervals) + len(shown_proposals))
    budget = max(MIN_SERIES_POINTS, (MAX_CHART_ROWS - reserved) // len(lines))

    parts = [_downsampled(line, budget, start, end) for line in lines]
    colors = {line.name: line.color for line in lines}
    drawn = pd.concat(parts, ignore_index=True)
    low, high = _extent(drawn["value"].to_numpy())
    span = (high - low) or 1.0
    for name, color, line, times in markers:
        if times and line is not None and not too_many:
            parts.append(_ticks(np.asarray(times, dtype=np.float64), _heights(line, times), span, name))
            colors[name] = color
    if shown_intervals:
        parts.append(_bars(shown_intervals, high + 0.22 * span, start, end))
        colors[INTERVALS_SERIES] = INTERVAL_COLOR
    if shown_proposals:
        parts.append(_bars(shown_proposals, high + 0.30 * span, start, end, PROPOSALS_SERIES))
        colors[PROPOSALS_SERIES] = PROPOSAL_COLOR

    samples = int(np.searchsorted(time_s, end, side="right") - np.searchsorted(time_s, start, side="left"))
    caption = f"{start:g}–{end:g} s · {samples:,} of {time_s.size:,} samples in view, drawn from {len(drawn):,} points"
    if too_many:
        caption += f" · {marker_count} peaks in view: zoom in to see their markers"
    if normalise:
        caption += " · each line scaled to 0–1"
    return ChartData(pd.concat(parts, ignore_index=True), colors, caption)


def histogram(frame: pl.DataFrame, column: str, *, window: tuple[float, float] | None = None,
              bins: int = HISTOGRAM_BINS) -> pd.DataFrame:
    """Counts of ``column``'s values in ``window`` in ``bins`` equal bins, as the outline of the bars.

    Rows (value, count) trace each bar's left edge, top and right edge, so a line chart draws a
    histogram (Gradio's bar chart would need a new bin width on every zoom, which it cannot update).
    """
    time_s = frame["time_s"].cast(pl.Float64).to_numpy()
    start, end = _window(time_s, window)
    lo, hi = np.searchsorted(time_s, start, side="left"), np.searchsorted(time_s, end, side="right")
    values = frame[column].cast(pl.Float64).to_numpy()[lo:hi]
    values = values[np.isfinite(values)]
    if values.size == 0:
        return pd.DataFrame({"value": np.array([], dtype=float), "count": np.array([], dtype=np.int64)})
    counts, edges = np.histogram(values, bins=bins)
    x = np.repeat(edges, 2)
    y = np.concatenate([[0], np.repeat(counts, 2), [0]])
    return pd.DataFrame({"value": x, "count": y})


def _window(time_s: np.ndarray, window: tuple[float, float] | None) -> tuple[float, float]:
    if time_s.size == 0:
        return 0.0, 0.0
    if window is None:
        return float(time_s[0]), float(time_s[-1])
    start, end = sorted(float(v) for v in window)
    return max(start, float(time_s[0])), min(end, float(time_s[-1]))


def _lines(frame: pl.DataFrame, channels: Sequence[str], show_raw: bool, normalise: bool) -> list[_Line]:
    """Every line of the channels: the raw channel (optional) and its cleaned column."""
    lines = []
    for index, channel in enumerate(channels):
        raw_color, clean_color = CHANNEL_COLORS[index % len(CHANNEL_COLORS)]
        clean = f"{channel}_clean"
        columns = ([(channel, "raw", raw_color)] if show_raw or clean not in frame.columns else [])
        columns += [(clean, "cleaned", clean_color)] if clean in frame.columns else []
        lines += [_Line(frame, column, series_name(channel, kind), color,
                        _scale(frame[column]) if normalise else _IDENTITY) for column, kind, color in columns]
    return lines


def _marked_line(frame: pl.DataFrame, channel: str | None, normalise: bool) -> _Line | None:
    """The line peaks are marked on: the cleaned channel, else the raw one."""
    if channel is None:
        return None
    for column in (f"{channel}_clean", channel):
        if column in frame.columns:
            return _Line(frame, column, column, "", _scale(frame[column]) if normalise else _IDENTITY)
    return None


def _downsampled(line: _Line, budget: int, start: float, end: float) -> pd.DataFrame:
    part = downsample_frame(line.frame, [line.column], budget, start=start, end=end)
    return _rows(part["time_s"].to_numpy(), _scaled(part["value"].to_numpy(), line.scale), line.name)


def _heights(line: _Line, times: Sequence[float]) -> np.ndarray:
    """The line's (scaled) value at each time, missing samples bridged."""
    x = line.frame["time_s"].cast(pl.Float64).to_numpy()
    return _scaled(np.interp(np.asarray(times, dtype=np.float64), x, _filled(line.frame[line.column])), line.scale)



def _scale(series: pl.Series) -> tuple[float, float]:
    """(offset, span) that maps the series onto 0–1."""
    low, high = series.min(), series.max()
    if low is None or high is None:
        return _IDENTITY
    return float(low), float(high - low) or 1.0  # type: ignore[operator]


def _scaled(values: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
    offset, span = scale
    return values if scale == _IDENTITY else (values - offset) / span


def _filled(series: pl.Series) -> np.ndarray:
    values = series.cast(pl.Float64).to_numpy()
    finite = np.isfinite(values)
    if finite.all() or not finite.any():
        return values
    index = np.arange(values.size)
    return np.interp(index, index[finite], values[finite])


def _extent(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    return (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)


def _rows(time_s: np.ndarray, values: np.ndarray, name: str) -> pd.DataFrame:
    return pd.DataFrame({"time_s": time_s, "value": values, "series": name})


def _ticks(times: np.ndarray, heights: np.ndarray, span: float, name: str) -> pd.DataFrame:
    """A vertical segment above each peak, with null rows before and after so the line breaks."""
    eps = 1e-9 * max(1.0, float(np.abs(times).max()))
    x = np.repeat(times, 4) + np.tile([-eps, 0.0, 0.0, eps], times.size)
    y = np.column_stack([np.full(times.size, np.nan), heights + 0.04 * span, heights + 0.16 * span,
                         np.full(times.size, np.nan)]).ravel()
    return _rows(x, y, name)


def _bars(intervals: Sequence[AnomalyInterval], level: float, start: float, end: float,
          name: str = INTERVALS_SERIES) -> pd.DataFrame:
    """A horizontal bar at ``level`` over each interval (clipped to the window), null rows between."""
    x, y = [], []
    for interval in intervals:
        a, b = max(interval.start_s, start), min(interval.end_s, end)
        eps = 1e-9 * max(1.0, abs(b))
        x += [a - eps, a, b, b + eps]
        y += [np.nan, level, level, np.nan]
    return _rows(np.asarray(x), np.asarray(y, dtype=np.float64), name)
