"""Baselines for spectra and chromatograms (pybaselines, BSD-3-Clause), with windows sized from the peaks.

Methods:

- ``snip``: statistics-sensitive non-linear iterative peak clipping (Ryan et al. 1988) — gamma spectra,
  Raman, chromatograms; its half-window must exceed a peak's half base width, or the peak is clipped;
- ``arpls``: asymmetrically reweighted penalized least squares (Baek et al. 2015) — broad, curved
  backgrounds (FTIR, UV-Vis, fluorescence under Raman);
- ``asls``: asymmetric least squares (Eilers & Boelens 2005);
- ``morphological``: opening of the signal (pybaselines ``mor``) — XRD, steady backgrounds;
- ``none``.

The window is never a fixed number of samples: :func:`peak_scale` measures the widest typical peak
(the 90th percentile FWHM of the candidates standing 5 noise levels out) and the half-window is 3 of
those widths, so wide chromatographic peaks stay whole. The penalized methods get
``lam = (2 x half-window)^4 / 16``: a Whittaker smoother with that ``lam`` follows nothing narrower than
about the window.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pybaselines import Baseline
from scipy.signal import find_peaks, peak_widths

BaselineMethod = Literal["none", "snip", "arpls", "asls", "morphological"]
BASELINE_METHODS: tuple[str, ...] = ("none", "snip", "arpls", "asls", "morphological")
SCALE_SNR = 5.0
SCALE_PERCENTILE = 90
WINDOW_WIDTHS = 3.0
MIN_HALF_WINDOW = 5


def noise_sigma(values: np.ndarray) -> float:
    """Robust noise level: MAD of first differences / sqrt(2) (scaled to a normal's sigma)."""
    steps = np.abs(np.diff(values[np.isfinite(values)]))
    sigma = 1.4826 * float(np.median(steps)) / np.sqrt(2.0) if steps.size else 0.0
    return sigma if sigma > 0 else (float(steps.mean()) / np.sqrt(2.0) if steps.size else 0.0)


def peak_scale(values: np.ndarray, percentile: float = SCALE_PERCENTILE) -> float:
    """Width (samples, FWHM) of the clear candidates at a percentile (default 90: the widest typical peaks).

    Candidates are maxima with a prominence of at least 5 noise levels; with none, 5 samples.
    """
    sigma = noise_sigma(values)
    peaks, props = find_peaks(values, prominence=max(SCALE_SNR * sigma, 1e-300))
    if peaks.size == 0:
        return float(MIN_HALF_WINDOW)
    widths = peak_widths(values, peaks, rel_height=0.5,
                         prominence_data=(props["prominences"], props["left_bases"], props["right_bases"]))[0]
    return float(max(1.0, np.percentile(widths, percentile, method="higher")))


def half_window(values: np.ndarray, window: int | None = None) -> int:
    """The baseline half-window in samples: the given one, or 3 x the typical widest peak width."""
    if window is not None:
        return int(window)
    scaled = int(np.ceil(WINDOW_WIDTHS * peak_scale(values)))
    return int(np.clip(scaled, MIN_HALF_WINDOW, max(MIN_HALF_WINDOW, values.size // 3)))


def estimate_baseline(values: np.ndarray, method: BaselineMethod, *, window: int | None = None,
                      counts_fwhm: float | None = None) -> tuple[np.ndarray, dict[str, float | str]]:
    """The baseline of an evenly ordered signal, and the settings used (method, half-window, lam).

    ``counts_fwhm`` (a counting spectrum's typical line FWHM, samples): SNIP pads the ends with the end
    values instead of extrapolating their slope (a gamma spectrum's ends are steep for reasons of their own:
    the discriminator), and smooths the counts over a quarter of that FWHM first — else it follows the lower
    edge of the Poisson noise, not the continuum (Morháč et al. 1997).
    """
    values = np.asarray(values, dtype=np.float64)
    if method == "none" or values.size < 4:
        return np.zeros_like(values), {"baseline": "none"}
    if method not in BASELINE_METHODS:
        raise ValueError(f"unknown baseline method {method!r}; choose one of {', '.join(BASELINE_METHODS)}")
    half = half_window(values, window)
    rule = "explicit" if window is not None else f"{WINDOW_WIDTHS:g} x the widest typical peak FWHM"
    settings: dict[str, float | str] = {"baseline": method, "baseline_half_window": half,
                                        "baseline_window_rule": rule}
    fitter = Baseline()
    if method == "snip":
        extra: dict = {}
        if counts_fwhm is not None:
            smoothing = max(1, int(round(counts_fwhm / 4)))
            extra = {"pad_kwargs": {"mode": "edge"}, "smooth_half_window": smoothing}
            settings["baseline_smoothing_half_window"] = smoothing
        baseline = fitter.snip(values, max_half_window=half, decreasing=True, **extra)[0]
    elif method == "morphological":
        baseline = fitter.mor(values, half_window=half)[0]
    else:
        lam = float((2 * half) ** 4 / 16.0)
        settings["baseline_lam"] = lam
        solve = fitter.arpls if method == "arpls" else fitter.asls
        baseline = solve(values, lam=lam)[0]
    return np.asarray(baseline, dtype=np.float64), settings
