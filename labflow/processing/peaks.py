"""Peak detection with thresholds chosen from the signal: the ``peaks`` step.

Every threshold the recipe leaves empty is chosen from the signal itself, in three steps:

1. **Noise level** ``sigma``: robust (MAD) spread of sample-to-sample differences. For a smoothed
   series the differences of neighbouring samples are correlated, so the lag is doubled (1, 2, 4, ...
   up to 32) until the spread stops growing; without such a plateau the lag-1 value is used.
2. **Candidates**: local maxima standing ``noise_factor x sigma`` above the local baseline (block
   medians, the lowest of three neighbouring blocks) *and* with a prominence of at least
   ``noise_factor x sigma``. The height test is what keeps pure noise out: on noise the prominence of
   a local maximum is about twice its height, so a prominence floor alone admits many.
3. **Dominant class** (mode ``"auto"``): when the candidates' log-prominences fall into clearly
   separated groups, only the top group is kept. Otsu's threshold is applied to the log-prominences,
   then again inside the upper class, and so on (at most 4 levels). A split is *clear* when at least
   20 candidates take part, at least 3 lie above it, and the upper class stands apart from the nearest
   group below it (the upper Otsu class of the lower class): between-class variance >= 93 % of their
   total and class means >= 3.5x apart. The first clear split sets the prominence threshold (the
   geometric midpoint of the gap). Comparing with the *nearest* group matters: an ECG has three groups
   (small wiggles, P/T waves, R peaks), and the R peaks are only clearly apart from the T waves.
   On the MIT-BIH ECG this keeps the R peaks and drops the P/T waves; fewer than 20 candidates (a
   chromatogram of a few peaks of different sizes) are never split, and a continuum of peak sizes
   splits in under 1 % of random trials. Mode ``"dominant"`` uses the first Otsu split when none is
   clear; mode ``"all"`` never splits.
4. **Minimum distance** (modes ``"auto"``/``"dominant"``, when none is given): half the median width
   (full width at half prominence) of the kept peaks; of two peaks closer than that, the higher is
   kept. This removes noise wiggles on the top of wide peaks without merging resolved neighbours.

Speed: before the prominence scan (whose cost grows with how far each maximum must look for a higher
sample), maxima that provably cannot reach the prominence floor are dropped in a few O(n) passes, so
the noise wiggles on wide peaks cost little. About 30-60 ms per million samples on typical signals.

Explicit ``min_height``/``min_prominence``/``min_distance_s``/``min_width_s`` replace the automatic
values; an explicit prominence also switches the class split off in mode ``"auto"``.

Reference: N. Otsu, "A threshold selection method from gray-level histograms", IEEE Trans. SMC 9 (1979).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import polars as pl
from scipy.ndimage import minimum_filter1d
from scipy.signal import find_peaks, peak_prominences, peak_widths
from scipy.signal._peak_finding_utils import PeakPropertyWarning

from labflow.processing.qrs import detect_qrs
from labflow.processing.spectra import analyze_spectrum, measure_spectrum_at
from labflow.processing.recipes import PeakParams

TABLE_SCHEMA: dict[str, Any] = {
    "peak_index": pl.Int64, "time_s": pl.Float64, "height": pl.Float64,
    "prominence": pl.Float64, "width_s": pl.Float64, "area": pl.Float64,
}
MAD_TO_SIGMA = 1.4826
NOISE_LAGS = (1, 2, 4, 8, 16, 32)
NOISE_PLATEAU_RATIO = 1.15
NOISE_SAMPLE = 50_000
BASELINE_BLOCKS = 32
MIN_BLOCK = 64
SPLIT_MIN_CANDIDATES = 20
SPLIT_MIN_UPPER = 3
SPLIT_MIN_ETA = 0.93
SPLIT_MIN_RATIO = 3.5
SPLIT_MAX_LEVELS = 4
BOUND_HALF_WIDTHS = 4.0
BOUND_LEVEL_FRACTION = 0.25
R_APEX_S = 0.05  # an ECG beat's R wave: the highest sample within this of the detected QRS
SNAP_FRACTION = 0.005  # a placed peak snaps to the apex within this fraction of the run
MIN_NOISE_SAMPLES = 16
SHORT_RANGE_DIVISOR = 50.0
PRUNE_ROUNDS = 8
PRUNE_MIN_PEAKS = 256
PRUNE_MIN_GAIN = 0.1


@dataclass(frozen=True)
class PeakResult:
    """Detected peaks (one row each) and the thresholds actually used, with how they were chosen."""

    table: pl.DataFrame
    thresholds: dict[str, float | str]
    baseline: np.ndarray | None = None  # method 'spectrum': the baseline under the peaks (heights are above it)


@dataclass(frozen=True)
class ClassSplit:
    """A split of candidate prominences into a lower and a dominant (upper) class."""

    threshold: float
    eta: float
    ratio: float
    level: int
    clear: bool


def empty_table() -> pl.DataFrame:
    """A peak table with no rows."""
    return pl.DataFrame(schema=TABLE_SCHEMA)


def _mad_sigma(differences: np.ndarray) -> float:
    return float(MAD_TO_SIGMA * np.median(np.abs(differences)) / np.sqrt(2.0))


def estimate_noise(values: np.ndarray) -> tuple[float, int]:
    """Noise standard deviation of a gap-free series, and the difference lag it was measured at.

    Robust spread of ``x[i + lag] - x[i]`` (at most about 50,000 evenly spaced pairs), taken at the
    first lag where doubling the lag no longer raises it by 15 %; lag 1 if there is no such plateau.
    """
    n = values.size
    stride = max(1, n // NOISE_SAMPLE)
    sigmas = [(lag, _lag_sigma(values, lag, stride)) for lag in NOISE_LAGS if lag == 1 or 2 * lag < n]
    for (_, low), (lag, high) in zip(sigmas, sigmas[1:]):
        if low > 0 and high < NOISE_PLATEAU_RATIO * low:
            return high, lag
    sigma = sigmas[0][1]
    if sigma == 0.0:
        sigma = float(1.2533 * np.mean(np.abs(np.diff(values))) / np.sqrt(2.0))
    return sigma, 1


def _lag_sigma(values: np.ndarray, lag: int, stride: int) -> float:
    later = values[lag::stride]
    return _mad_sigma(later - values[::stride][: later.size])


def local_baseline(values: np.ndarray) -> np.ndarray:
    """Slowly varying baseline: medians of about 32 blocks, each lowered to the least of it and its neighbours.

    Taking the lowest neighbour keeps a block filled by a wide peak from lifting the baseline.
    """
    n = values.size
    block = max(MIN_BLOCK, n // BASELINE_BLOCKS)
    if n <= block:
        return np.full(n, float(np.median(values)))
    count = n // block
    step = max(1, block // 512)
    medians = np.median(values[: count * block].reshape(count, block)[:, ::step], axis=1)
    lowest = minimum_filter1d(medians, 3, mode="nearest")
    level = np.empty(n)
    level[: count * block] = np.repeat(lowest, block)
    level[count * block:] = lowest[-1]
    return level


def _otsu(ordered: np.ndarray) -> int:
    """Otsu's split of sorted values: the size of the lower class (maximum between-class variance)."""
    m = ordered.size
    total = np.cumsum(ordered)
    lower = np.arange(1, m)
    mean_low = total[:-1] / lower
    mean_high = (total[-1] - total[:-1]) / (m - lower)
    return int(lower[np.argmax(lower * (m - lower) * (mean_high - mean_low) ** 2)])


def _separation(ordered: np.ndarray, k: int) -> tuple[float, float]:
    """Between/total variance ratio and ratio of (exp) class means of the split ``ordered[:k] | ordered[k:]``."""
    low, high = ordered[:k], ordered[k:]
    gap = float(high.mean() - low.mean())
    variance = float(ordered.var())
    eta = k * (ordered.size - k) / ordered.size**2 * gap**2 / variance if variance > 0 else 0.0
    return eta, float(np.exp(gap))


def _adjacent_separation(ordered: np.ndarray, k: int) -> tuple[float, float]:
    """Separation of the upper class from the nearest group below it (the upper part of the lower class)."""
    below = _otsu(ordered[:k]) if k >= 2 else 0
    return _separation(ordered[below:], k - below)


def dominant_split(prominences: np.ndarray, *, force: bool = False) -> ClassSplit | None:
    """Prominence threshold separating the dominant class of peaks, or None when there is none.

    Otsu splits of the log-prominences, each inside the previous upper class; the first clear one wins
    (see the module docstring). ``force`` returns the first-level split when none is clear.
    """
    ordered = np.log(np.sort(prominences[prominences > 0]))
    first: ClassSplit | None = None
    for level in range(SPLIT_MAX_LEVELS):
        if ordered.size < 2 or (level > 0 and ordered.size < SPLIT_MIN_CANDIDATES):
            break
        k = _otsu(ordered)
        eta, ratio = _adjacent_separation(ordered, k)
        clear = (ordered.size >= SPLIT_MIN_CANDIDATES and ordered.size - k >= SPLIT_MIN_UPPER
                 and eta >= SPLIT_MIN_ETA and ratio >= SPLIT_MIN_RATIO)
        split = ClassSplit(float(np.exp(0.5 * (ordered[k - 1] + ordered[k]))), eta, ratio, level, clear)
        if clear:
            return split
        first = first or split
        ordered = ordered[k:]
    return first if force else None


def _fill_gaps(values: np.ndarray) -> np.ndarray:
    finite = np.isfinite(values)
    if finite.all():
        return values
    index = np.arange(values.size, dtype=np.float64)
    return np.interp(index, index[finite], values[finite])


def _valleys(values: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """Index of the lowest sample between each pair of consecutive peaks (first one on ties)."""
    if peaks.size < 2:
        return np.empty(0, dtype=np.int64)
    start = peaks[0]
    span = values[start:peaks[-1]]
    offsets = peaks[:-1] - start
    lowest = np.minimum.reduceat(span, offsets)
    hits = np.flatnonzero(span == np.repeat(lowest, np.diff(peaks)))
    segment = np.searchsorted(offsets, hits, side="right") - 1
    return hits[np.unique(segment, return_index=True)[1]] + start


def _bounds(values: np.ndarray, peaks: np.ndarray, props: dict[str, np.ndarray],
            left_ips: np.ndarray, right_ips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integration bounds: 4 half-widths either side, stopped at the valley towards the next peak."""
    valleys = _valleys(values, peaks)
    left_stop = np.maximum(props["left_bases"], np.concatenate([[0], valleys]))
    right_stop = np.minimum(props["right_bases"], np.concatenate([valleys, [values.size - 1]]))
    left = np.floor(peaks - BOUND_HALF_WIDTHS * (peaks - left_ips)).astype(np.int64)
    right = np.ceil(peaks + BOUND_HALF_WIDTHS * (right_ips - peaks)).astype(np.int64)
    return np.maximum(left, left_stop), np.minimum(right, right_stop)


def _spans(starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated ``arange(start, start + length)`` for every span, and where each span begins in it."""
    offsets = np.cumsum(lengths) - lengths
    return np.repeat(starts, lengths) + np.arange(lengths.sum()) - np.repeat(offsets, lengths), offsets


def _levels(values: np.ndarray, centres: np.ndarray, half: np.ndarray) -> np.ndarray:
    """Mean of the samples within ``half`` of each centre (clipped to the series): a bound's baseline level."""
    starts = np.maximum(centres - half, 0)
    lengths = np.minimum(centres + half, values.size - 1) - starts + 1
    index, offsets = _spans(starts, lengths)
    return np.add.reduceat(values[index], offsets) / lengths


def _areas(time_s: np.ndarray, values: np.ndarray, left: np.ndarray, right: np.ndarray,
           half: np.ndarray) -> np.ndarray:
    """Trapezoid integral of the signal minus the straight line joining its levels at the bounds.

    The levels average the samples within ``half`` of each bound, so one noisy sample does not tilt the line.
    """
    lengths = np.maximum(right - left, 0)
    index, offsets = _spans(left, lengths)
    pieces = 0.5 * (values[index] + values[index + 1]) * (time_s[index + 1] - time_s[index])
    running = np.concatenate([[0.0], np.cumsum(pieces)])
    integral = running[offsets + lengths] - running[offsets]
    levels = _levels(values, left, half) + _levels(values, right, half)
    chord = 0.5 * levels * (time_s[right] - time_s[left])
    return np.where(lengths > 0, integral - chord, 0.0)


def _time_at(time_s: np.ndarray, position: np.ndarray) -> np.ndarray:
    """Time at fractional sample positions (linear between samples)."""
    index = np.clip(np.floor(position).astype(np.int64), 0, time_s.size - 2)
    return time_s[index] + (position - index) * (time_s[index + 1] - time_s[index])


def _peak_table(time_s: np.ndarray, values: np.ndarray, peaks: np.ndarray,
                props: dict[str, np.ndarray]) -> pl.DataFrame:
    if peaks.size == 0:
        return empty_table()
    prominence_data = (props["prominences"], props["left_bases"], props["right_bases"])
    _, _, left_ips, right_ips = peak_widths(values, peaks, rel_height=0.5, prominence_data=prominence_data)
    width_s = _time_at(time_s, right_ips) - _time_at(time_s, left_ips)
    left, right = _bounds(values, peaks, props, left_ips, right_ips)
    half = np.floor(BOUND_LEVEL_FRACTION * (right_ips - left_ips)).astype(np.int64)
    return pl.DataFrame({
        "peak_index": peaks.astype(np.int64), "time_s": time_s[peaks], "height": values[peaks],
        "prominence": props["prominences"], "width_s": width_s,
        "area": _areas(time_s, values, left, right, half),
    }, schema=TABLE_SCHEMA)


def _median_step(time_s: np.ndarray) -> float:
    """Typical sampling step: median of about 50,000 evenly spaced time differences."""
    stride = max(1, time_s.size // NOISE_SAMPLE)
    later = time_s[1::stride]
    return float(np.median(later - time_s[::stride][: later.size]))


def _samples(seconds: float | None, step_s: float) -> float | None:
    return None if seconds is None else max(1.0, seconds / step_s)


def _subset(props: dict[str, np.ndarray], keep: np.ndarray) -> dict[str, np.ndarray]:
    return {key: value[keep] for key, value in props.items()}


@dataclass(frozen=True)
class Search:
    """Candidate filters in samples, applied like ``find_peaks``: height, distance, prominence, width."""

    height: float | np.ndarray
    prominence: float
    distance: float | None = None
    width: float | None = None


def _shallow(signal: np.ndarray, peaks: np.ndarray, floor: float) -> np.ndarray:
    """Maxima whose prominence is provably below ``floor``, judged on the spans to their neighbours.

    If the span to a neighbouring candidate holds a higher sample and never drops ``floor`` below the
    maximum, the base on that side is less than ``floor`` below it, and so is its prominence.
    """
    value = signal[peaks]
    shallow = np.zeros(peaks.size, dtype=bool)
    for starts in (np.concatenate([[0], peaks]), peaks + 1):
        highest = np.maximum.reduceat(signal, starts)[: peaks.size]
        lowest = np.minimum.reduceat(signal, starts)[: peaks.size]
        shallow |= (highest > value) & (lowest > value - floor)
    return shallow


def _prune_shallow(signal: np.ndarray, peaks: np.ndarray, floor: float) -> np.ndarray:
    """Candidates left after repeatedly removing provably shallow maxima (exact; cheap O(n) rounds).

    Removes the many noise wiggles riding on wide peaks before the costly prominence scan, whose
    cost grows with the distance each wiggle has to scan to find a higher sample.
    """
    for _ in range(PRUNE_ROUNDS):
        if peaks.size <= PRUNE_MIN_PEAKS:
            break
        kept = peaks[~_shallow(signal, peaks, floor)]
        removed, peaks = peaks.size - kept.size, kept
        if removed < PRUNE_MIN_GAIN * (peaks.size + removed):
            break
    return peaks


def find_candidates(signal: np.ndarray, search: Search) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``scipy.signal.find_peaks`` with the same filters, plus an exact screen before the prominences."""
    peaks, _ = find_peaks(signal, height=search.height, distance=search.distance)
    peaks = _prune_shallow(signal, peaks, search.prominence)
    prominences, left_bases, right_bases = peak_prominences(signal, peaks)
    keep = prominences >= search.prominence
    peaks = peaks[keep]
    props = {"prominences": prominences[keep], "left_bases": left_bases[keep], "right_bases": right_bases[keep]}
    if search.width is None or peaks.size == 0:
        return peaks, props
    keep = _widths(signal, peaks, props) >= search.width
    return peaks[keep], _subset(props, keep)


def _widths(signal: np.ndarray, peaks: np.ndarray, props: dict[str, np.ndarray]) -> np.ndarray:
    prominence_data = (props["prominences"], props["left_bases"], props["right_bases"])
    return peak_widths(signal, peaks, rel_height=0.5, prominence_data=prominence_data)[0]


def _thin_close_peaks(signal: np.ndarray, peaks: np.ndarray, props: dict[str, np.ndarray], search: Search
                      ) -> tuple[np.ndarray, dict[str, np.ndarray], float | None]:
    """Drop peaks closer than half the kept peaks' median width, keeping the higher one."""
    if peaks.size < 2:
        return peaks, props, None
    distance = max(1.0, 0.5 * float(np.median(_widths(signal, peaks, props))))
    if np.diff(peaks).min() >= distance:
        return peaks, props, distance
    peaks, props = find_candidates(signal, replace(search, distance=distance))
    return peaks, props, distance


def _empty_result(reason: str) -> PeakResult:
    return PeakResult(empty_table(), {"noise": 0.0, "rule": reason})


def _noise_level(signal: np.ndarray) -> tuple[float, str]:
    """Noise sigma and how it was measured (a fraction of the range when the series is too short)."""
    floor = 1e-12 * max(1.0, float(np.abs(signal).max()))
    if signal.size < MIN_NOISE_SAMPLES:
        span = float(signal.max() - signal.min())
        rule = f"range / {SHORT_RANGE_DIVISOR:g} (too few samples to measure noise)"
        return max(span / SHORT_RANGE_DIVISOR, floor), rule
    sigma, lag = estimate_noise(signal)
    return max(sigma, floor), f"MAD of lag-{lag} differences / sqrt(2)"


def _search_settings(signal: np.ndarray, step_s: float, params: PeakParams
                     ) -> tuple[Search, dict[str, float | str]]:
    """Candidate filters from the params or the signal, and the thresholds report so far."""
    sigma, noise_rule = _noise_level(signal)
    floor = params.noise_factor * sigma
    factor = f"{params.noise_factor:g} x noise"
    report: dict[str, float | str] = {"mode": params.mode, "noise": sigma, "noise_rule": noise_rule,
                                      "noise_factor": params.noise_factor}
    if params.min_height is not None:
        height: float | np.ndarray = params.min_height
        report.update(height=params.min_height, height_rule="explicit (min_height)")
    else:
        height = local_baseline(signal)
        height += floor
        report.update(height=floor, height_rule=f"local baseline + {factor}")
    prominence = params.min_prominence if params.min_prominence is not None else floor
    report.update(prominence=prominence, prominence_rule="explicit (min_prominence)"
                  if params.min_prominence is not None else factor)
    report.update(distance_s=params.min_distance_s or 0.0,
                  distance_rule="explicit (min_distance_s)" if params.min_distance_s else "none")
    if params.min_width_s is not None:
        report.update(width_s=params.min_width_s, width_rule="explicit (min_width_s)")
    search = Search(height, prominence, distance=_samples(params.min_distance_s, step_s),
                    width=_samples(params.min_width_s, step_s))
    return search, report


def _keep_dominant(peaks: np.ndarray, props: dict[str, np.ndarray], split: ClassSplit,
                   report: dict[str, float | str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    keep = props["prominences"] >= split.threshold
    report.update(prominence=split.threshold, prominence_rule=_split_rule(split),
                  split_eta=round(split.eta, 4), split_ratio=round(split.ratio, 3))
    return peaks[keep], _subset(props, keep)


def detect_peaks(time_s: np.ndarray, values: np.ndarray, params: PeakParams) -> PeakResult:
    """Peaks of one channel: index, time, height (signal value at the apex), prominence, width and area.

    ``width_s`` is the full width at half prominence; ``area`` integrates the signal minus a straight
    baseline between the peak's bounds (trapezoids in time units). Missing samples are interpolated.
    Thresholds left empty in ``params`` are chosen from the signal (see the module docstring);
    ``thresholds`` says which values were used and why. ``method="qrs"`` finds the R peaks of an ECG
    lead instead (:mod:`labflow.processing.qrs`); their table is measured the same way.
    ``method="spectrum"`` subtracts a spectroscopy baseline and measures peaks on the x axis
    (:mod:`labflow.processing.spectra`): ``time_s`` is then the sub-sample position, ``width_s`` the FWHM
    and ``area`` the baseline-corrected area between the peak's own bounds.
    """
    time_s = np.asarray(time_s, dtype=np.float64)
    raw = np.asarray(values, dtype=np.float64)
    if raw.size != time_s.size:
        raise ValueError(f"detect_peaks: {time_s.size} times but {raw.size} values")
    if np.isfinite(raw).sum() < 3:
        return _empty_result("fewer than 3 finite samples")
    step_s = _median_step(time_s)
    if not step_s > 0:
        return _empty_result("time_s does not increase")
    signal = _fill_gaps(raw)
    if params.method == "qrs":
        qrs = detect_qrs(signal, 1.0 / step_s)
        return PeakResult(_beat_table(time_s, signal, qrs.peaks), dict(qrs.settings))
    if params.method == "spectrum":
        spectrum = analyze_spectrum(time_s, signal, **params.spectrum_options())
        return PeakResult(_from_spectrum(spectrum.table), dict(spectrum.settings), spectrum.baseline)
    search, report = _search_settings(signal, step_s, params)
    peaks, props = find_candidates(signal, search)
    report["candidates"] = int(peaks.size)
    split = _choose_split(props["prominences"], params)
    if split is not None:
        peaks, props = _keep_dominant(peaks, props, split, report)
        search = replace(search, prominence=split.threshold)
    if params.mode != "all" and search.distance is None:
        peaks, props, distance = _thin_close_peaks(signal, peaks, props, search)
        if distance is not None:
            report.update(distance_s=distance * step_s, distance_rule="half the median width of the kept peaks")
    return PeakResult(_peak_table(time_s, signal, peaks, props), report)


def _choose_split(prominences: np.ndarray, params: PeakParams) -> ClassSplit | None:
    if params.mode == "all" or (params.mode == "auto" and params.min_prominence is not None):
        return None
    return dominant_split(prominences, force=params.mode == "dominant")


def _split_rule(split: ClassSplit) -> str:
    kind = "dominant-class split" if split.clear else "forced split (no clear dominant class)"
    return (f"{kind} (Otsu on log prominence, level {split.level}: "
            f"eta {split.eta:.2f}, class means {split.ratio:.1f}x apart)")


def measure_peaks(time_s: np.ndarray, values: np.ndarray, peak_times_s: np.ndarray, *,
                  snap_s: float | None = None, params: PeakParams | None = None) -> pl.DataFrame:
    """The peak table for peaks a person placed, measured exactly as detected peaks are.

    Each time snaps to the highest sample within ``snap_s`` of it (default: 0.5 % of the run's
    duration), since a click on a chart is rarely exactly on the apex. With ``params`` of
    ``method="spectrum"`` the peaks are measured above the same spectroscopy baseline as detection
    (:func:`labflow.processing.spectra.measure_spectrum_at`), so a confirmed peak keeps its detected area.
    """
    time_s = np.asarray(time_s, dtype=np.float64)
    signal = _fill_gaps(np.asarray(values, dtype=np.float64))
    wanted = np.asarray(peak_times_s, dtype=np.float64)
    if wanted.size == 0 or signal.size < 3:
        return empty_table()
    if snap_s is None:
        snap_s = SNAP_FRACTION * float(time_s[-1] - time_s[0])
    if params is not None and params.method == "spectrum":
        return _from_spectrum(measure_spectrum_at(time_s, signal, wanted, snap_s, **params.spectrum_options()))
    starts = np.searchsorted(time_s, wanted - snap_s, side="left")
    ends = np.maximum(np.searchsorted(time_s, wanted + snap_s, side="right"), starts + 1)
    nearest = np.array([start + int(np.argmax(signal[start:end])) for start, end in
                        zip(np.minimum(starts, signal.size - 1), np.minimum(ends, signal.size))])
    return _table_at(time_s, signal, nearest)


def _from_spectrum(table: pl.DataFrame) -> pl.DataFrame:
    """A spectrum's peak table in this module's columns (height above the baseline doubles as prominence)."""
    return table.select(
        pl.col("peak_index"), pl.col("position").alias("time_s"), pl.col("height"),
        pl.col("height").alias("prominence"), pl.col("fwhm").alias("width_s"), pl.col("area"),
    ).cast(TABLE_SCHEMA)


def _beat_table(time_s: np.ndarray, signal: np.ndarray, beats: np.ndarray) -> pl.DataFrame:
    """Peak table of ECG beats: time at the detector's QRS position, the rest measured on the R wave.

    The R wave is the highest sample within 50 ms of the beat; its height, prominence, width and area
    are what the table reports, while ``peak_index``/``time_s`` stay where the beat was detected.
    """
    if beats.size == 0:
        return empty_table()
    half = max(1, int(round(R_APEX_S / _median_step(time_s))))
    offsets = np.arange(-half, half + 1)
    window = np.clip(beats[:, None] + offsets[None, :], 0, signal.size - 1)
    apex = window[np.arange(beats.size), np.argmax(signal[window], axis=1)]
    return _table_at(time_s, signal, apex).with_columns(pl.Series("peak_index", beats.astype(np.int64)), pl.Series("time_s", time_s[beats]))


def _table_at(time_s: np.ndarray, signal: np.ndarray, positions: np.ndarray) -> pl.DataFrame:
    """The peak table at given sample positions (kept off the first and last sample), measured as detected peaks are."""
    if positions.size == 0:
        return empty_table()
    peaks = np.unique(np.clip(positions, 1, signal.size - 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PeakPropertyWarning)
        prominences, left_bases, right_bases = peak_prominences(signal, peaks)
        props = {"prominences": prominences, "left_bases": left_bases, "right_bases": right_bases}
        return _peak_table(time_s, signal, peaks, props)
