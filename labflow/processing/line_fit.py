"""Lines of a counting spectrum measured as gamma analysts do: Gaussians on a straight background.

Each line found by :func:`labflow.processing.counting.find_lines` gets a region of 1.5 expected FWHM
each side; lines whose regions overlap (a multiplet) are fitted together, weighted by their Poisson
errors, so a weak line beside a strong one keeps its own net counts.

>>> import numpy as np
>>> channel = np.arange(200.0)
>>> counts = np.round(50 + 0.1 * channel + 400 * np.exp(-4 * np.log(2) * ((channel - 100) / 8.0) ** 2))
>>> m = measure_lines(counts, np.array([100]), np.full(200, 8.0), np.full(200, 30.0))
>>> round(float(m.centroid[0]), 1), round(float(m.fwhm[0]), 1), round(float(m.net[0]) / (400 * 8 * 1.0645), 2)
(100.0, 8.0, 1.0)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import curve_fit

GAUSS_AREA = float(np.sqrt(np.pi / (4 * np.log(2))))  # area of a unit-height Gaussian per unit FWHM
ROI_FWHM = 1.5  # a line's region reaches 1.5 FWHM each side (99.9 % of a Gaussian)
MAX_FIT_EVALUATIONS = 2000


@dataclass(frozen=True)
class LineMeasures:
    """Per line: centroid (fractional channel), net height, FWHM (channels), net counts, region bounds
    (channels), significance, and whether the fit converged (else the region's sums are reported)."""

    centroid: np.ndarray
    height: np.ndarray
    fwhm: np.ndarray
    net: np.ndarray
    left: np.ndarray
    right: np.ndarray
    significance: np.ndarray
    fitted: np.ndarray


def _gaussians(x: np.ndarray, *params: float) -> np.ndarray:
    """A straight background (first two parameters) plus Gaussians (height, centre, FWHM each)."""
    out = params[0] + params[1] * (x - x[0])
    for i in range(2, len(params), 3):
        height, centre, fwhm = params[i:i + 3]
        out = out + height * np.exp(-4 * np.log(2) * ((x - centre) / fwhm) ** 2)
    return out


def _groups(channels: np.ndarray, fwhm: np.ndarray, n: int) -> list[tuple[int, int, list[int]]]:
    """Lines whose regions overlap form one group: (first channel, last channel, line indices)."""
    groups: list[tuple[int, int, list[int]]] = []
    for i, channel in enumerate(channels):
        lo = max(0, int(np.floor(channel - ROI_FWHM * fwhm[channel])))
        hi = min(n - 1, int(np.ceil(channel + ROI_FWHM * fwhm[channel])))
        if groups and lo <= groups[-1][1]:
            groups[-1] = (groups[-1][0], max(hi, groups[-1][1]), groups[-1][2] + [i])
        else:
            groups.append((lo, hi, [i]))
    return groups


def measure_lines(counts: np.ndarray, channels: np.ndarray, fwhm: np.ndarray, significance: np.ndarray
                  ) -> LineMeasures:
    """Lines measured as gamma analysts do: Gaussians of about the detector's width on a straight background.

    Lines whose regions (1.5 expected FWHM each side) overlap are fitted together (a multiplet), weighted
    by their Poisson errors; each centre stays within half an expected FWHM of where the line was found and
    each FWHM within 0.5-2x the expected one. The net counts are the fitted Gaussian's area. A group whose
    fit fails reports the counts above the straight line joining its region's ends instead (``fitted``
    False).
    """
    counts = np.nan_to_num(np.asarray(counts, dtype=np.float64), nan=0.0)
    channels = np.sort(np.asarray(channels, dtype=np.int64))
    n = channels.size
    out = {k: np.zeros(n) for k in ("centroid", "height", "fwhm", "net", "left", "right")}
    fitted = np.zeros(n, dtype=bool)
    for lo, hi, members in _groups(channels, fwhm, counts.size):
        x = np.arange(lo, hi + 1, dtype=np.float64)
        y = counts[lo:hi + 1]
        slope = (y[-1] - y[0]) / max(hi - lo, 1)
        guess, low, high = [float(y[0]), float(slope)], [-np.inf, -np.inf], [np.inf, np.inf]
        for i in members:
            c, w = float(channels[i]), float(fwhm[channels[i]])
            top = max(float(counts[channels[i]] - (y[0] + slope * (c - lo))), 1.0)
            guess += [top, c, w]
            low += [0.0, c - 0.5 * w, 0.5 * w]
            high += [max(4.0 * top, 10.0), c + 0.5 * w, 2.0 * w]
        try:
            params, _ = curve_fit(_gaussians, x, y, p0=guess, bounds=(low, high), sigma=np.sqrt(y + 1.0),
                                  maxfev=MAX_FIT_EVALUATIONS)
        except (RuntimeError, ValueError):
            params = None
        for k, i in enumerate(members):
            w = float(fwhm[channels[i]])
            out["left"][i] = max(lo, channels[i] - ROI_FWHM * w)
            out["right"][i] = min(hi, channels[i] + ROI_FWHM * w)
            if params is not None:
                height, centre, width = params[2 + 3 * k:5 + 3 * k]
                out["centroid"][i], out["height"][i], out["fwhm"][i] = centre, height, width
                out["net"][i] = height * width * GAUSS_AREA
                out["left"][i] = max(lo, centre - ROI_FWHM * width)
                out["right"][i] = min(hi, centre + ROI_FWHM * width)
                fitted[i] = True
            else:
                a, b = int(out["left"][i]), int(np.ceil(out["right"][i]))
                line = counts[a] + (counts[b] - counts[a]) * (np.arange(a, b + 1) - a) / max(b - a, 1)
                net = counts[a:b + 1] - line
                out["centroid"][i], out["height"][i], out["fwhm"][i] = channels[i], float(net.max()), w
                out["net"][i] = float(net.sum())
    return LineMeasures(out["centroid"], out["height"], out["fwhm"], out["net"], out["left"], out["right"],
                        np.asarray(significance, dtype=np.float64)[channels], fitted)
