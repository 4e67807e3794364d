"""Fitting overlapping peaks with Gaussian, Lorentzian or pseudo-Voigt shapes (least squares, SciPy).

Peaks whose integration bounds touch form a group; each group is fitted as a sum of shapes over its
span, starting from the measured position, height and FWHM (position kept within one FWHM, FWHM within
0.2-5x, pseudo-Voigt mixing 0-1). The fitted position, height, FWHM and the shape's analytic area replace
the measured ones; a group whose fit fails keeps its measured values (``fitted`` False).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import polars as pl
from scipy.optimize import curve_fit

PeakShape = Literal["gaussian", "lorentzian", "pseudo_voigt"]
GAUSS_AREA = float(np.sqrt(np.pi / (4 * np.log(2))))  # area of a unit-height Gaussian per unit FWHM
LORENTZ_AREA = float(np.pi / 2)
MAX_FIT_EVALUATIONS = 1000


def gaussian(x: np.ndarray, height: float, centre: float, fwhm: float) -> np.ndarray:
    return height * np.exp(-4 * np.log(2) * ((x - centre) / fwhm) ** 2)


def lorentzian(x: np.ndarray, height: float, centre: float, fwhm: float) -> np.ndarray:
    return height / (1 + 4 * ((x - centre) / fwhm) ** 2)


def pseudo_voigt(x: np.ndarray, height: float, centre: float, fwhm: float, eta: float) -> np.ndarray:
    return eta * lorentzian(x, height, centre, fwhm) + (1 - eta) * gaussian(x, height, centre, fwhm)


def shape_area(shape: PeakShape, height: float, fwhm: float, eta: float = 0.5) -> float:
    """Analytic area of one shape."""
    if shape == "gaussian":
        return height * fwhm * GAUSS_AREA
    if shape == "lorentzian":
        return height * fwhm * LORENTZ_AREA
    return height * fwhm * (eta * LORENTZ_AREA + (1 - eta) * GAUSS_AREA)


def _model(shape: PeakShape, count: int):
    per = 4 if shape == "pseudo_voigt" else 3

    def total(x: np.ndarray, *params: float) -> np.ndarray:
        out = np.zeros_like(x)
        for i in range(count):
            p = params[i * per:(i + 1) * per]
            out += pseudo_voigt(x, *p) if shape == "pseudo_voigt" else (
                gaussian(x, *p) if shape == "gaussian" else lorentzian(x, *p))
        return out

    return total, per


def fit_group(x: np.ndarray, y: np.ndarray, start: list[tuple[float, float, float]], shape: PeakShape
              ) -> list[tuple[float, float, float, float]] | None:
    """Fitted (height, centre, fwhm, area) per peak of one group, or None when the fit fails."""
    model, per = _model(shape, len(start))
    guess, low, high = [], [], []
    for height, centre, fwhm in start:
        fwhm = max(fwhm, 1e-12)
        guess += [height, centre, fwhm]
        low += [0.0, centre - fwhm, 0.2 * fwhm]
        high += [max(4 * height, 1e-300), centre + fwhm, 5 * fwhm]
        if per == 4:
            guess.append(0.5)
            low.append(0.0)
            high.append(1.0)
    try:
        params, _ = curve_fit(model, x, y, p0=guess, bounds=(low, high), maxfev=MAX_FIT_EVALUATIONS)
    except (RuntimeError, ValueError):
        return None
    fitted = []
    for i in range(len(start)):
        p = params[i * per:(i + 1) * per]
        eta = float(p[3]) if per == 4 else 0.5
        fitted.append((float(p[0]), float(p[1]), float(p[2]), shape_area(shape, float(p[0]), float(p[2]), eta)))
    return fitted


def fit_groups(axis: np.ndarray, corrected: np.ndarray, table: pl.DataFrame, shape: PeakShape) -> pl.DataFrame:
    """The peak table with every group of touching peaks fitted (see the module docstring)."""
    rows = table.sort("position").to_dicts()
    groups: list[list[int]] = []
    for i, row in enumerate(rows):
        if groups and row["left"] <= rows[groups[-1][-1]]["right"]:
            groups[-1].append(i)
        else:
            groups.append([i])
    fitted_flags = [False] * len(rows)
    for group in groups:
        lo = min(rows[i]["left"] for i in group)
        hi = max(rows[i]["right"] for i in group)
        inside = (axis >= lo) & (axis <= hi)
        if inside.sum() < 3 * len(group) + 1:
            continue
        start = [(rows[i]["height"], rows[i]["position"], rows[i]["fwhm"]) for i in group]
        result = fit_group(axis[inside], corrected[inside], start, shape)
        if result is None:
            continue
        for i, (height, centre, fwhm, area) in zip(group, result):
            rows[i].update(height=height, position=centre, fwhm=fwhm, area=area)
            fitted_flags[i] = True
    return pl.DataFrame(rows, schema=table.schema).with_columns(pl.Series("fitted", fitted_flags))
