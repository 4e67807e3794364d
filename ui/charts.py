"""Chart data for the run view: downsampled channels on a shared time axis, peak and interval markers,
and a histogram of values. Plain functions returning pandas frames for Gradio's native plots.

Gradio's ``LinePlot`` (6.31) thins data of 1,000 rows or more in the browser (min/max of 250 buckets
per series), which would cut the marker segments apart; the server therefore sends at most
:data:`MAX_CHART_ROWS` rows, chosen by min/max downsampling of the visible window only. Zooming
asks for the new window, so detail comes back as you zoom in; the x axis follows the data sent.

Markers are short vertical segments in their own series, separated by empty (null) rows so that
the line breaks between them: peaks a little above the signal. Anomaly intervals (and the model's
proposed ones) are shaded bands over the chart's whole height, one legend entry per label: the
native plot draws lines only, so a band is a dense zig-zag of a light colour, drawn under the signal.
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
INTERVAL_COLOR = "#fdc086"
PROPOSAL_COLOR = "#a6e1ea"
PEAKS_SERIES = "peaks (draft)"
PREVIEW_PEAKS_SERIES = "peaks (preview)"
INTERVALS_SERIES = "interval"  # legend: "interval · <label>"
PROPOSALS_SERIES = "proposed anomalies (model)"
BAND_STROKES = 700  # strokes of a band over the whole window (~2 px apart on a wide chart): reads as a fill
BAND_ROWS = 360  # rows of every band in view together, at most (narrower bands keep their density)
_IDENTITY = (0.0, 1.0)  # (offset, span) of an unscaled line


@dataclass(frozen=True)
class ChartData:
    """What the line chart shows: long rows (time_s, value, series) of the visible window, colours,
    a plain caption and the y axis title (channel names and units)."""

    frame: pd.DataFrame
    color_map: dict[str, str]
    caption: str
    x_title: str = "time (s)"
    y_title: str = "value"


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


def interval_series(label: str) -> str:
    """The legend label of the anomaly intervals labelled ``label``."""
    return f"{INTERVALS_SERIES} · {label}"


def axis_title(channels: Sequence[str], units: dict[str, str], normalise: bool) -> str:
    """The y axis title: each channel with its unit, e.g. ``"signal (mV)"``."""
    named = ", ".join(f"{c} ({units[c]})" if units.get(c) else c for c in channels)
    return f"{named}, each scaled to 0–1" if normalise else named


def build_chart(frame: pl.DataFrame, channels: Sequence[str], *, show_raw: bool = True, normalise: bool = False,
                window: tuple[float, float] | None = None, marker_channel: str | None = None,
                peaks: Sequence[float] = (), intervals: Sequence[AnomalyInterval] = (),
                preview: Preview | None = None, proposals: Sequence[Any] = (),
                axis: tuple[str, str] = ("time", "s"), units: dict[str, str] | None = None) -> ChartData:
    """Rows for the line chart of ``channels`` (raw and ``*_clean`` columns of ``frame``) in ``window``.

    Peaks are marked above the cleaned ``marker_channel``; a preview adds its cleaned line and its
    peaks in another colour. ``normalise`` scales every line to 0–1 (over the whole run), for
    channels of different units. Anomaly intervals, and ``proposals`` (anything with
    ``start_s``/``end_s``: the model's pre-annotations not yet decided on), are shaded bands.
    ``axis`` is the x axis' name and unit (``("Raman shift", "cm-1")``): the axis title and the caption's unit;
    ``units`` (channel → unit) name the y axis.
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
    bands = [(interval_series(i.label), INTERVAL_COLOR, i) for i in shown_intervals]
    bands += [(PROPOSALS_SERIES, PROPOSAL_COLOR, p) for p in shown_proposals]
    strokes = _band_strokes([b[2] for b in bands], start, end)
    reserved = (0 if too_many else 4 * marker_count) + sum(strokes) + 3 * len(bands)
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
    if bands:
        parts.insert(0, _bands(bands, strokes, low, high + 0.18 * span, start, end))  # first: under the lines
        colors.update({name: color for name, color, _ in bands})

    samples = int(np.searchsorted(time_s, end, side="right") - np.searchsorted(time_s, start, side="left"))
    name, unit = axis
    caption = _caption(start, end, unit, samples, time_s.size, thinned=len(drawn) < samples * len(lines))
    if too_many:
        caption += f" · {marker_count} peaks in view: zoom in to see their markers"
    if normalise:
        caption += " · each line scaled to 0–1"
    return ChartData(pd.concat(parts, ignore_index=True), colors, caption, f"{name} ({unit})" if unit else name,
                     axis_title(channels, units or {}, normalise))


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


def _caption(start: float, end: float, unit: str, samples: int, total: int, *, thinned: bool) -> str:
    """What the chart shows, in words: the span on the x axis, how many samples, whether lines were thinned."""
    where = f"{start:g}–{end:g} {unit}".rstrip()
    text = (f"Whole run, {where}: {total:,} samples" if samples == total
            else f"Zoomed to {where}: {samples:,} of the run's {total:,} samples")
    if thinned:
        text += " · each line drawn through its minima and maxima (every peak kept); zoom in for every sample"
    return text


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


def _band_strokes(intervals: Sequence[Any], start: float, end: float) -> list[int]:
    """Strokes of each band's zig-zag: :data:`BAND_STROKES` per window width, :data:`BAND_ROWS` in all."""
    width = (end - start) or 1.0
    wanted = [max(2.0, BAND_STROKES * (min(i.end_s, end) - max(i.start_s, start)) / width) for i in intervals]
    factor = min(1.0, BAND_ROWS / sum(wanted)) if wanted else 1.0
    return [max(2, int(w * factor)) for w in wanted]


def _bands(bands: Sequence[tuple[str, str, Any]], strokes: Sequence[int], low: float, high: float, start: float,
           end: float) -> pd.DataFrame:
    """A shaded band from ``low`` to ``high`` over each interval (clipped to the window): a zig-zag
    whose strokes are dense enough to read as a fill, with null rows between bands."""
    parts = []
    for (name, _, interval), count in zip(bands, strokes):
        a, b = max(interval.start_s, start), min(interval.end_s, end)
        x = np.linspace(a, b, count + 1)
        y = np.where(np.arange(count + 1) % 2 == 0, low, high)
        eps = 1e-9 * max(1.0, abs(b))
        parts.append(_rows(np.r_[a - eps, x, b + eps], np.r_[np.nan, y, np.nan], name))
    return pd.concat(parts, ignore_index=True)
