"""Lines in counting spectra (gamma, X-ray, XRD counts): significance from Poisson statistics.

A line is judged by how many counts it adds over the continuum, against the counting noise of the
counts under it — not by its height against a per-channel noise, which misses a wide, low line with
thousands of net counts (a NaI photopeak) and keeps every two-channel blip where counts are sparse.

- :func:`line_significance`: a matched filter (Mariscotti 1967; as in LBNL's ``becquerel``
  ``GaussianPeakFilter``): the spectrum is correlated with the negative second derivative of a Gaussian
  of the line width, integrated over each channel. The kernel sums to zero, so a flat or sloping
  continuum gives nothing; its response divided by its Poisson standard deviation
  ``sqrt(sum kernel^2 x counts)`` is the line's significance in standard deviations.
- :func:`resolution` finds the detector's resolution (FWHM in channels along the spectrum) from the
  spectrum itself: the typical width of the clear maxima of the variance-stabilised counts, then each line
  standing 10 standard deviations out at that width is measured, and ``FWHM^2 = a + b x channel`` (the
  physics of scintillators and semiconductor detectors: electronic noise plus charge statistics) is fitted
  to them, robustly.
- :func:`discriminator_end`: the first channel past the low-level discriminator's edge (the counts ramp
  from zero there); a "line" in that ramp is the edge, not a line.
- :func:`find_lines` puts these together (:mod:`labflow.processing.line_fit` then measures each line).

>>> import numpy as np
>>> channel = np.arange(600.0)
>>> counts = np.round(200 + 900 * np.exp(-0.5 * ((channel - 300) / 6.0) ** 2))
>>> fwhm = np.full(600, 14.1)
>>> significance = line_significance(counts, fwhm)
>>> int(np.argmax(significance)), bool(significance.max() > 50)
(300, True)
>>> bool(abs(line_significance(np.full(600, 200.0), fwhm)).max() < 1e-6)
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import fftconvolve, find_peaks, peak_widths

from labflow.processing.baselines import peak_scale

SIGMA_PER_FWHM = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))
KERNEL_HALF_WIDTH = 2.5  # the kernel reaches 2.5 FWHM each side (past that it is < 1e-6 of its centre)
WIDTH_STEP = 1.06  # widths tried (and kernels grouped) on a 6 % geometric grid
MIN_FWHM = 1.5
CLEAR_LINE_SNR = 10.0  # lines that set the resolution stand 10 standard deviations out


def is_counts(values: np.ndarray, *, more_than: float = 0.0) -> bool:
    """Whether a signal holds counts (finite values all non-negative whole numbers, the largest above
    ``more_than``; 1 tells counts from a 0/1 flag): its noise is Poisson."""
    finite = values[np.isfinite(values)]
    return bool(finite.size and finite.min() >= 0 and finite.max() > more_than and np.all(finite == np.round(finite)))


@dataclass(frozen=True)
class Resolution:
    """Detector resolution: ``fwhm(channel) = sqrt(a + b x channel)`` in channels, and how it was found."""

    a: float
    b: float
    lines: int  # clear lines it was fitted to (0: a constant width, the default)

    def fwhm(self, n: int) -> np.ndarray:
        """Expected FWHM (channels) at each of ``n`` channels, never under 1.5."""
        return np.sqrt(np.maximum(self.a + self.b * np.arange(n, dtype=np.float64), MIN_FWHM ** 2))

    def describe(self) -> str:
        if self.lines == 0:
            return f"constant FWHM {np.sqrt(self.a):.3g} channels (no clear line to fit)"
        if self.lines < 3:
            return f"FWHM^2 = {self.b:.4g} x channel, scaled to {self.lines} clear line(s)"
        return f"FWHM^2 = {self.a:.4g} + {self.b:.4g} x channel, fitted to {self.lines} clear lines"


def _kernel(fwhm: float) -> np.ndarray:
    """Negative second derivative of a Gaussian, integrated over unit channels, summing to zero."""
    sigma = max(fwhm, 0.5) * SIGMA_PER_FWHM
    half = int(np.ceil(KERNEL_HALF_WIDTH * max(fwhm, 1.0))) + 1
    edges = np.arange(-half - 0.5, half + 1.5)
    first = -edges * np.exp(-0.5 * (edges / sigma) ** 2)  # sigma^2 x the Gaussian's first derivative
    kernel = first[:-1] - first[1:]
    positive, negative = kernel.clip(0, None), -kernel.clip(None, 0)
    return positive - negative * positive.sum() / negative.sum()


def _filtered(counts: np.ndarray, fwhm: float) -> np.ndarray:
    kernel = _kernel(fwhm)
    if kernel.size >= counts.size:
        return np.zeros_like(counts)
    half = kernel.size // 2
    padded = np.pad(counts, half, mode="edge")  # the ends continue flat: no step where the spectrum stops
    signal = fftconvolve(padded, kernel[::-1], mode="valid")
    variance = fftconvolve(padded, (kernel ** 2)[::-1], mode="valid")
    noise = np.sqrt(np.maximum(variance, kernel @ kernel))  # at least one count's worth under the kernel
    return signal / noise


def line_significance(counts: np.ndarray, fwhm: np.ndarray) -> np.ndarray:
    """Significance (standard deviations) of a line of the given width (channels) at each channel."""
    counts = np.nan_to_num(np.asarray(counts, dtype=np.float64), nan=0.0).clip(0, None)
    fwhm = np.broadcast_to(np.asarray(fwhm, dtype=np.float64), counts.shape)
    steps = np.round(np.log(np.maximum(fwhm, MIN_FWHM) / MIN_FWHM) / np.log(WIDTH_STEP)).astype(np.int64)
    out = np.zeros_like(counts)
    for step in np.unique(steps):
        where = steps == step
        out[where] = _filtered(counts, MIN_FWHM * WIDTH_STEP ** step)[where]
    return out


def measured_fwhm(counts: np.ndarray, position: int, rough: float) -> float | None:
    """FWHM (channels) of the line near ``position`` measured on the counts, or None when it has no clear shape.

    The counts are smoothed by a Gaussian a third of the rough width (its broadening is taken out in
    quadrature); the line's apex must lie within half the rough width of ``position``, and its half-maximum
    is taken over the higher of the two valleys within two rough widths (``scipy.signal.peak_widths``).
    """
    smoothing = rough / 3.0
    smooth = gaussian_filter1d(counts, smoothing * SIGMA_PER_FWHM)
    reach = int(np.ceil(rough / 2.0))
    lo, hi = max(0, position - reach), min(counts.size, position + reach + 1)
    apex = lo + int(np.argmax(smooth[lo:hi]))
    if apex in (lo, hi - 1) and 0 < apex < counts.size - 1:
        return None
    width = peak_widths(smooth, [apex], rel_height=0.5, wlen=int(4 * rough) | 1)[0][0]
    squared = width ** 2 - smoothing ** 2
    return float(np.sqrt(squared)) if squared > 0 and width < 2.0 * rough else None


def typical_fwhm(counts: np.ndarray) -> float:
    """Typical line width (channels): the median FWHM of clear maxima of the variance-stabilised counts.

    The Anscombe transform ``2 sqrt(counts + 3/8)`` gives Poisson counts a noise of about 1 everywhere, so
    one noise threshold holds on a 10-count tail and a 10,000-count photopeak alike.
    """
    return max(MIN_FWHM, peak_scale(2.0 * np.sqrt(np.clip(counts, 0, None) + 0.375), 50))


def resolution(counts: np.ndarray, start: int = 0) -> Resolution:
    """The detector's resolution fitted to the clear lines at or after ``start`` (see the module docstring).

    Clear lines stand 10 standard deviations out at the typical width; each one's FWHM is measured twice
    (the second time with the first measure as the rough width). The fit is a least-squares line through
    (channel, FWHM^2), refitted without lines more than 50 % off; a negative slope or intercept is not
    physical and gives the median width.
    """
    counts = np.nan_to_num(np.asarray(counts, dtype=np.float64), nan=0.0).clip(0, None)
    width = typical_fwhm(counts[start:])
    significance = _filtered(counts, width)
    found, _ = find_peaks(significance, height=CLEAR_LINE_SNR, distance=max(1, int(width)))
    peaks, widths = [], []
    for position in found[found > start]:
        first = measured_fwhm(counts, int(position), width)
        second = measured_fwhm(counts, int(position), first) if first is not None else None
        if second is not None:
            peaks.append(int(position))
            widths.append(second)
    if not peaks:
        return Resolution(a=width ** 2, b=0.0, lines=0)
    at, squared = np.asarray(peaks, dtype=np.float64), np.asarray(widths) ** 2
    if at.size < 3:  # too few to fit: the width grows as the square root of the channel (charge statistics)
        return Resolution(a=0.0, b=float(np.median(squared / np.maximum(at, 1.0))), lines=int(at.size))
    chosen = np.ones(at.size, dtype=bool)
    a, b = float(np.median(squared)), 0.0
    for _ in range(3):
        a, b = float(np.median(squared[chosen])), 0.0
        if chosen.sum() >= 3 and np.ptp(at[chosen]) > 0:
            slope, intercept = (float(v) for v in np.polyfit(at[chosen], squared[chosen], 1))
            if slope >= 0 and intercept >= 0:
                a, b = intercept, slope
        expected = np.sqrt(np.maximum(a + b * at, MIN_FWHM ** 2))
        chosen = np.abs(np.sqrt(squared) / expected - 1.0) <= 0.5
        if not chosen.any():
            chosen[:] = True
    return Resolution(a=a, b=b, lines=int(chosen.sum()))


def discriminator_end(counts: np.ndarray) -> int:
    """Channel where the low-level discriminator's edge tops out; 0 when the spectrum has no leading zeros.

    From the first non-zero channel the counts (a 5-channel running mean) climb; the edge ends at the
    highest point reached before they fall 3 Poisson standard deviations below it.
    """
    counts = np.nan_to_num(np.asarray(counts, dtype=np.float64), nan=0.0)
    nonzero = np.flatnonzero(counts > 0)
    if nonzero.size == 0 or nonzero[0] == 0:
        return 0
    first = int(nonzero[0])
    smooth = np.convolve(counts[first:], np.ones(5) / 5, mode="same")
    top = 0
    for i, value in enumerate(smooth):
        if value > smooth[top]:
            top = i
        elif value < smooth[top] - 3.0 * np.sqrt(smooth[top]):
            break
    return first + top


@dataclass(frozen=True)
class CountingLines:
    """Lines found in a counting spectrum: channels, their significance, the resolution and the edge."""

    channels: np.ndarray
    significance: np.ndarray  # per channel of the spectrum
    fwhm: np.ndarray  # expected FWHM per channel
    edge: int
    resolution: Resolution


def find_lines(counts: np.ndarray, min_snr: float) -> CountingLines:
    """Channels where a line of the detector's width stands ``min_snr`` standard deviations out, past the edge.

    Of two maxima closer than the local FWHM, the more significant is kept.
    """
    counts = np.nan_to_num(np.asarray(counts, dtype=np.float64), nan=0.0).clip(0, None)
    edge = discriminator_end(counts)
    model = resolution(counts, edge)
    fwhm = model.fwhm(counts.size)
    significance = line_significance(counts, fwhm)
    found, _ = find_peaks(significance, height=min_snr)
    found = found[found > edge]
    kept: list[int] = []
    for channel in found[np.argsort(-significance[found], kind="stable")]:
        if all(abs(channel - other) >= fwhm[channel] for other in kept):
            kept.append(int(channel))
    return CountingLines(np.sort(np.asarray(kept, dtype=np.int64)), significance, fwhm, edge, model)
