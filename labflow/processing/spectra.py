"""Peaks of a spectrum or chromatogram on its own x axis: position, height, FWHM, area and bounds.

:func:`analyze_spectrum` works on (x, y) arrays, x in the file's unit (cm-1, keV, degrees 2θ, minutes);
a descending axis (FTIR from 4000 cm-1 down, a UV-Vis scan from long wavelengths) is handled, and
``polarity="down"`` (or ``"auto"`` on a transmittance-like trace) finds dips instead of peaks. Steps:

1. **Baseline** by the recipe's method (:mod:`labflow.processing.baselines`), its window sized from the
   peak widths, raised by the median of what lies above it (clipping methods follow the lower edge of
   the noise, not its middle), then subtracted.
2. **Noise**: a *local* level — the MAD of second differences / sqrt(6) in a window of about 8 % of the points
   (counting spectra have Poisson noise that grows with the counts) — never below 1/4 of the global level;
   on counts (non-negative whole numbers: gamma, XRD) never below ``sqrt(baseline + 1)``, the Poisson
   spread of the background under a peak (near-empty channels have a MAD of 0).
3. **Detection** on the corrected signal lightly smoothed (Savitzky–Golay, window about half the
   FWHM of the narrower peaks: the 25th percentile of the clear candidates'): a peak stands ``min_snr`` local noise levels above the baseline *and* above its
   surroundings (prominence).
4. **Measures**: position by a parabola through the apex and its two neighbours (sub-sample),
   height (corrected), FWHM (width at half prominence, interpolated on the axis), integration bounds
   (where the corrected signal returns to one noise level, stopped at the valley to a neighbour and at 3
   FWHM), area (trapezoids in x units).
5. **Shoulders**: a minimum of the smoothed second derivative inside a peak's bounds, more than 3/4 of
   its FWHM from the apex, at least ``min_snr`` noise levels high, curved at least a tenth as sharply as
   the apex and ``min_snr`` times the curvature's noise, is a shoulder; the peak's bounds are
   split at the lowest slope between them.
6. **Analyst rule**: peaks with an area under ``min_area_fraction`` of the largest are dropped.
7. Optional **fit** of each group of overlapping peaks (:mod:`labflow.processing.peakfit`) replaces
   position, height, FWHM and area by the fitted shapes'.

**Counting spectra** (``counting_lines=True``, the gamma recipe, on non-negative whole numbers): steps 2-6
are replaced by :mod:`labflow.processing.counting` — lines are found by their Poisson significance at the
detector's resolution (fitted from the spectrum), past the discriminator edge — and measured by Gaussian
fits on a straight background (:mod:`labflow.processing.line_fit`); the baseline's half-window is 1.5
detector FWHMs. The ``snr`` column is then the significance in standard deviations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import polars as pl
from scipy.ndimage import median_filter
from scipy.signal import find_peaks, peak_prominences, peak_widths, savgol_filter

from labflow.processing.baselines import BaselineMethod, estimate_baseline, noise_sigma, peak_scale
from labflow.processing.counting import CountingLines, find_lines, is_counts
from labflow.processing.line_fit import measure_lines
from labflow.processing.peakfit import PeakShape, fit_groups

SPECTRUM_SCHEMA: dict[str, Any] = {
    "peak_index": pl.Int64, "position": pl.Float64, "height": pl.Float64, "fwhm": pl.Float64,
    "area": pl.Float64, "left": pl.Float64, "right": pl.Float64, "snr": pl.Float64, "shoulder": pl.Boolean,
}
NOISE_WINDOW_FRACTION = 0.08
NOISE_FLOOR_FRACTION = 0.25
BOUND_FWHM = 3.0
SHOULDER_MIN_FWHM = 0.75
SHOULDER_CURVATURE = 0.1
MIN_NOISE_WINDOW = 31
SMOOTH_PERCENTILE = 50  # smoothing follows the typical peak, so no peak is merged with a neighbour
SMOOTH_FWHM = 0.25  # Savitzky-Golay window as a share of that FWHM
CURVATURE_FWHM = 0.5  # the second derivative (shoulders) is taken over half that FWHM
BASELINE_FWHM = 1.5  # counting lines: SNIP half-window in detector FWHMs (a Gaussian line's base is ~2.5 FWHM)


@dataclass(frozen=True)
class SpectrumResult:
    """The peak table (x units), the baseline and corrected signal on the input's order, and the settings."""

    table: pl.DataFrame
    baseline: np.ndarray
    corrected: np.ndarray
    settings: dict[str, float | str]


def local_noise(values: np.ndarray, window: int) -> np.ndarray:
    """Noise level per sample: robust spread of second differences in a sliding window.

    Second differences cancel a straight slope, so the steep flank of a strong line does not pass for noise.
    """
    steps = np.abs(np.diff(values, n=2, prepend=values[0], append=values[-1]))
    size = max(MIN_NOISE_WINDOW, window) | 1
    local = 1.4826 * median_filter(steps, size=size, mode="nearest") / np.sqrt(6.0)
    floor = NOISE_FLOOR_FRACTION * noise_sigma(values)
    return np.maximum(local, max(floor, 1e-12 * max(1.0, float(np.abs(values).max()))))


def _polarity(values: np.ndarray, polarity: str) -> float:
    """+1 for peaks, -1 for dips; ``auto`` takes dips when the median sits in the top quarter of the range."""
    if polarity == "up":
        return 1.0
    if polarity == "down":
        return -1.0
    low, high, middle = np.nanmin(values), np.nanmax(values), np.nanmedian(values)
    return -1.0 if high > low and (middle - low) / (high - low) > 0.75 else 1.0


def _smoothed(values: np.ndarray, width: float) -> np.ndarray:
    window = int(max(5, round(width * SMOOTH_FWHM))) | 1
    if window >= values.size:
        return values.copy()
    return savgol_filter(values, window, 2)


def _vertex(values: np.ndarray, peaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sub-sample apex position and height from a parabola through each apex and its neighbours."""
    inner = np.clip(peaks, 1, values.size - 2)
    left, mid, right = values[inner - 1], values[inner], values[inner + 1]
    curvature = left - 2 * mid + right
    shift = np.where(curvature < 0, 0.5 * (left - right) / np.where(curvature < 0, curvature, -1.0), 0.0)
    shift = np.clip(shift, -0.5, 0.5)
    return inner + shift, mid - 0.25 * (left - right) * shift


def _bounds(corrected: np.ndarray, noise: np.ndarray, peaks: np.ndarray, left_ips: np.ndarray,
            right_ips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integration bounds: back to one noise level, at most 3 FWHM out, stopped at the valley to a neighbour."""
    n = corrected.size
    fwhm = right_ips - left_ips
    low_limit = np.maximum(0, np.floor(peaks - BOUND_FWHM * fwhm)).astype(np.int64)
    high_limit = np.minimum(n - 1, np.ceil(peaks + BOUND_FWHM * fwhm)).astype(np.int64)
    left = np.empty(peaks.size, dtype=np.int64)
    right = np.empty(peaks.size, dtype=np.int64)
    for i, apex in enumerate(peaks):
        lo = low_limit[i] if i == 0 else max(low_limit[i], _valley(corrected, peaks[i - 1], apex))
        hi = high_limit[i] if i == peaks.size - 1 else min(high_limit[i], _valley(corrected, apex, peaks[i + 1]))
        below = np.flatnonzero(corrected[lo:apex + 1] <= noise[lo:apex + 1])
        left[i] = lo + below[-1] if below.size else lo
        above = np.flatnonzero(corrected[apex:hi + 1] <= noise[apex:hi + 1])
        right[i] = apex + above[0] if above.size else hi
    return left, right


def _valley(values: np.ndarray, start: int, stop: int) -> int:
    return int(start + np.argmin(values[start:stop + 1]))


def _shoulders(smooth: np.ndarray, noise: np.ndarray, peaks: np.ndarray, fwhm: np.ndarray,
               left: np.ndarray, right: np.ndarray, min_snr: float, width: float) -> np.ndarray:
    """Shoulder positions: clear minima of the second derivative inside a peak's bounds, away from its apex.

    Clear: the curvature there stands ``min_snr`` times the curvature's own noise (MAD) out, is at least a
    tenth of the owning apex's, and the shoulder stands ``min_snr`` noise levels high; away: more than 3/4
    of the owner's FWHM from every apex (closer, it cannot be told from a line's own asymmetry).
    """
    window = int(max(5, round(CURVATURE_FWHM * width))) | 1
    curvature = -(savgol_filter(smooth, window, 2, deriv=2) if window < smooth.size
                  else np.gradient(np.gradient(smooth)))
    curvature_noise = 1.4826 * float(np.median(np.abs(curvature - np.median(curvature))))
    candidates, _ = find_peaks(curvature, height=min_snr * curvature_noise)
    found = []
    for c in candidates:
        owner = np.flatnonzero((left <= c) & (c <= right))
        if owner.size == 0 or smooth[c] < min_snr * noise[c]:
            continue
        apex = peaks[owner[0]]
        if curvature[c] < SHOULDER_CURVATURE * curvature[apex]:
            continue
        if np.all(np.abs(peaks - c) > SHOULDER_MIN_FWHM * max(float(fwhm[owner[0]]), 1.0)):
            found.append(int(c))
    return np.asarray(found, dtype=np.int64)


def _at(axis: np.ndarray, position: np.ndarray) -> np.ndarray:
    """Axis value at fractional sample positions (linear between samples)."""
    return np.interp(position, np.arange(axis.size, dtype=np.float64), axis)


def _areas(axis: np.ndarray, corrected: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    running = np.concatenate([[0.0], np.cumsum(0.5 * (corrected[1:] + corrected[:-1]) * np.diff(axis))])
    return running[right] - running[left]


def empty_spectrum_table() -> pl.DataFrame:
    return pl.DataFrame(schema=SPECTRUM_SCHEMA)


@dataclass(frozen=True)
class _Prepared:
    """A spectrum sorted on its axis, oriented (dips turned up), baseline-corrected, smoothed, with its noise."""
    keep: np.ndarray
    order: np.ndarray
    axis: np.ndarray
    signal: np.ndarray
    sign: float
    base: np.ndarray
    corrected: np.ndarray
    smooth: np.ndarray
    noise: np.ndarray
    width: float
    counting: bool
    settings: dict
    lines: CountingLines | None = None


def _prepare(x: np.ndarray, y: np.ndarray, baseline: BaselineMethod, baseline_window: int | None,
             polarity: Literal["up", "down", "auto"], counting_lines: bool = False,
             min_snr: float = 5.0) -> _Prepared | None:
    """Everything peaks are found and measured on; ``None`` when fewer than 5 finite points.

    With ``counting_lines`` on a counting signal, lines are found by their Poisson significance
    (:mod:`labflow.processing.counting`), and the detector's resolution sizes the baseline and smoothing.
    """
    keep = np.isfinite(x) & np.isfinite(y)
    order = np.argsort(x[keep], kind="stable")
    axis, signal = x[keep][order], y[keep][order]
    if axis.size < 5:
        return None
    counting = is_counts(signal)
    lines = find_lines(signal, min_snr) if counting_lines and counting else None
    sign = 1.0 if lines is not None else _polarity(signal, polarity)
    oriented = sign * signal
    if lines is None:
        base, settings = estimate_baseline(oriented, baseline, window=baseline_window)
        if baseline != "none":
            base = base + max(0.0, float(np.median(oriented - base)))
        width = peak_scale(oriented - base, SMOOTH_PERCENTILE)
    else:  # past the discriminator edge only: under it there is nothing to take a baseline from
        start, width = lines.edge + 1, float(np.median(lines.fwhm))
        window = baseline_window or int(np.ceil(BASELINE_FWHM * np.percentile(lines.fwhm, 90)))
        above, settings = estimate_baseline(oriented[start:], baseline, window=window, counts_fwhm=width)
        base = np.concatenate([oriented[:start], above])
        settings.update(baseline_window_rule=f"{BASELINE_FWHM:g} x the detector FWHM (90th percentile)",
                        line_rule="Poisson significance of a line of the detector's width (matched filter)",
                        resolution=lines.resolution.describe(), discriminator_edge=float(axis[lines.edge]))
    corrected = oriented - base
    noise = local_noise(corrected, int(NOISE_WINDOW_FRACTION * corrected.size))
    if counting:
        noise = np.maximum(noise, np.sqrt(np.maximum(sign * base, 0.0) + 1.0))
    smooth = _smoothed(corrected, width)
    return _Prepared(keep, order, axis, signal, sign, base, corrected, smooth, noise, width, counting, settings,
                     lines)


def analyze_spectrum(x: np.ndarray, y: np.ndarray, *, baseline: BaselineMethod = "snip",
                     baseline_window: int | None = None, min_snr: float = 5.0, min_area_fraction: float = 0.0,
                     polarity: Literal["up", "down", "auto"] = "up", fit: PeakShape | None = None,
                     shoulders: bool = True, counting_lines: bool = False) -> SpectrumResult:
    """Baseline, corrected signal and peak table of one spectrum (see the module docstring)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.size != y.size:
        raise ValueError(f"analyze_spectrum: {x.size} x values but {y.size} y values")
    prepared = _prepare(x, y, baseline, baseline_window, polarity, counting_lines, min_snr)
    if prepared is None:
        return SpectrumResult(empty_spectrum_table(), np.zeros_like(y), y.copy(), {"note": "fewer than 5 points"})
    p = prepared
    if p.lines is not None:
        table = _line_table(p.axis, p.signal, p.lines, p.lines.channels)
        peaks = p.lines.channels
    else:
        if counting_lines:
            p.settings["line_rule"] = "local noise (the signal is not counts: no Poisson significance)"
        peaks, props = find_peaks(p.smooth, height=min_snr * p.noise, prominence=min_snr * p.noise)
        table = _measure(p.axis, p.corrected, p.smooth, p.noise, peaks, props, min_snr, shoulders, p.width)
    table = _analyst_rule(table, min_area_fraction)
    if fit is not None and table.height and p.lines is None:
        table = fit_groups(p.axis, p.corrected, table, fit)
    settings = dict(p.settings)
    settings.update(polarity="dips" if p.sign < 0 else "peaks", min_snr=min_snr,
                    min_area_fraction=min_area_fraction, typical_fwhm_samples=round(p.width, 2),
                    noise_rule="local MAD of second differences (8 % windows)" + (
                        ", at least sqrt(baseline + 1) (counts)" if p.counting else ""), fit=fit or "none",
                    candidates=int(peaks.size))
    if p.lines is not None:
        settings.update(noise_rule="Poisson: the variance of a count is the count",
                        fit="gaussian on a straight background (multiplets together)")
    back = np.empty(y.size)
    back[:] = np.nan
    index = np.flatnonzero(p.keep)[p.order]
    back[index] = p.sign * p.base
    corrected_out = np.full(y.size, np.nan)
    corrected_out[index] = p.corrected * p.sign
    return SpectrumResult(table, back, corrected_out, settings)


def measure_spectrum_at(x: np.ndarray, y: np.ndarray, positions: np.ndarray, snap: float, *,
                        baseline: BaselineMethod = "snip", baseline_window: int | None = None, min_snr: float = 5.0,
                        polarity: Literal["up", "down", "auto"] = "up", counting_lines: bool = False,
                        **_: object) -> pl.DataFrame:
    """The peak table of peaks a person placed at ``positions``, measured exactly as :func:`analyze_spectrum`
    measures detected ones (same baseline, apex fit, FWHM, bounds and area).

    Each position snaps to the highest smoothed sample within ``snap`` (axis units) of it; on a counting
    spectrum, to the most significant channel, where detection would have found the line.
    """
    x = np.asarray(x, dtype=np.float64)
    prepared = _prepare(x, np.asarray(y, dtype=np.float64), baseline, baseline_window, polarity, counting_lines,
                        min_snr)
    wanted = np.sort(np.asarray(positions, dtype=np.float64))
    if prepared is None or wanted.size == 0:
        return empty_spectrum_table()
    p = prepared
    starts = np.searchsorted(p.axis, wanted - snap, side="left")
    ends = np.searchsorted(p.axis, wanted + snap, side="right")
    peaks = _snap(p.lines.significance if p.lines is not None else p.smooth, starts, ends)
    if p.lines is not None:
        return _line_table(p.axis, p.signal, p.lines, peaks)
    return _measure(p.axis, p.corrected, p.smooth, p.noise, peaks, _prominences(p.smooth, peaks), min_snr, False,
                    p.width)


def _snap(smooth: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The highest smoothed sample in each [start, end) range (clipped to the signal), without repeats."""
    starts = np.clip(starts, 0, smooth.size - 1)
    ends = np.clip(np.maximum(ends, starts + 1), 1, smooth.size)
    return np.unique([int(a) + int(np.argmax(smooth[a:b])) for a, b in zip(starts, ends)]).astype(np.int64)


def _prominences(smooth: np.ndarray, peaks: np.ndarray) -> dict[str, np.ndarray]:
    if peaks.size == 0:
        return {"prominences": np.empty(0), "left_bases": np.empty(0, np.int64), "right_bases": np.empty(0, np.int64)}
    prominences, left_bases, right_bases = peak_prominences(smooth, peaks)
    return {"prominences": prominences, "left_bases": left_bases, "right_bases": right_bases}


def _line_table(axis: np.ndarray, counts: np.ndarray, lines: CountingLines, channels: np.ndarray) -> pl.DataFrame:
    """The peak table of lines in a counting spectrum, fitted as Gaussians on a straight background
    (:func:`labflow.processing.line_fit.measure_lines`); the area is the net counts x the axis step, in the
    same units as other spectra's. Lines whose fitted centre falls in the discriminator edge, or whose fit
    leaves less than one net count (no line after all), are dropped."""
    m = measure_lines(counts, channels, lines.fwhm, lines.significance)
    keep = (m.centroid > lines.edge) & (m.net >= 1.0)
    if not keep.any():
        return empty_spectrum_table()
    centre = m.centroid[keep]
    index = np.clip(np.round(centre).astype(np.int64), 0, axis.size - 1)
    step = np.abs(np.gradient(axis))[index]
    return pl.DataFrame({
        "peak_index": index, "position": _at(axis, centre), "height": m.height[keep],
        "fwhm": np.abs(_at(axis, centre + m.fwhm[keep] / 2) - _at(axis, centre - m.fwhm[keep] / 2)),
        "area": m.net[keep] * step, "left": _at(axis, m.left[keep]), "right": _at(axis, m.right[keep]),
        "snr": m.significance[keep], "shoulder": np.zeros(int(keep.sum()), dtype=bool)},
        schema=SPECTRUM_SCHEMA).with_columns(pl.Series("fitted", m.fitted[keep]))


def _measure(axis: np.ndarray, corrected: np.ndarray, smooth: np.ndarray, noise: np.ndarray, peaks: np.ndarray,
             props: dict[str, np.ndarray], min_snr: float, shoulders: bool, width: float) -> pl.DataFrame:
    if peaks.size == 0:
        return empty_spectrum_table()
    _, _, left_ips, right_ips = peak_widths(smooth, peaks, rel_height=0.5,
                                            prominence_data=(props["prominences"], props["left_bases"],
                                                             props["right_bases"]))
    left, right = _bounds(smooth, noise, peaks, left_ips, right_ips)
    is_shoulder = np.zeros(peaks.size, dtype=bool)
    if shoulders:
        extra = _shoulders(smooth, noise, peaks, right_ips - left_ips, left, right, min_snr, width)
        if extra.size:
            peaks, left, right, is_shoulder, left_ips, right_ips = _split(
                smooth, peaks, left, right, left_ips, right_ips, extra)
    position, height = _vertex(smooth, peaks)
    return pl.DataFrame({
        "peak_index": peaks.astype(np.int64), "position": _at(axis, position), "height": height,
        "fwhm": np.abs(_at(axis, right_ips) - _at(axis, left_ips)),
        "area": _areas(axis, corrected, left, right),
        "left": axis[left], "right": axis[right], "snr": height / noise[peaks], "shoulder": is_shoulder,
    }, schema=SPECTRUM_SCHEMA)


def _split(smooth: np.ndarray, peaks: np.ndarray, left: np.ndarray, right: np.ndarray, left_ips: np.ndarray,
           right_ips: np.ndarray, extra: np.ndarray) -> tuple[np.ndarray, ...]:
    """Add shoulders as peaks; split the owner's bounds at the lowest slope between apex and shoulder."""
    slope = np.abs(np.gradient(smooth))
    rows = [(int(p), int(lo), int(hi), False, float(li), float(ri))
            for p, lo, hi, li, ri in zip(peaks, left, right, left_ips, right_ips)]
    for s in extra:
        owner = next((i for i, r in enumerate(rows) if r[1] <= s <= r[2] and not r[3]), None)
        if owner is None:  # an earlier shoulder of the same peak already took this side
            continue
        p, lo, hi, _, li, ri = rows[owner]
        half = 0.5 * (ri - li)
        if s > p:
            cut = p + 1 + int(np.argmin(slope[p + 1:s])) if s - p > 1 else s
            rows[owner] = (p, lo, cut, False, li, min(ri, cut))
            rows.append((int(s), cut, hi, True, max(cut, s - half), s + half))
        else:
            cut = s + 1 + int(np.argmin(slope[s + 1:p])) if p - s > 1 else s
            rows[owner] = (p, cut, hi, False, max(li, cut), ri)
            rows.append((int(s), lo, cut, True, s - half, min(cut, s + half)))
    rows.sort()
    columns = list(zip(*rows))
    return (np.array(columns[0]), np.array(columns[1]), np.array(columns[2]), np.array(columns[3]),
            np.array(columns[4]), np.array(columns[5]))


def _analyst_rule(table: pl.DataFrame, min_area_fraction: float) -> pl.DataFrame:
    if table.height == 0 or min_area_fraction <= 0:
        return table
    largest = float(table["area"].abs().max())
    return table.filter(pl.col("area").abs() >= min_area_fraction * largest)
