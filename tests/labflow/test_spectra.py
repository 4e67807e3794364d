"""Spectral baselines, peaks on the x axis (position, height, FWHM, area, bounds), shoulders and fits."""

from __future__ import annotations

import numpy as np
import pytest

from labflow.processing.peaks import detect_peaks, measure_peaks
from labflow.processing.baselines import estimate_baseline, half_window, peak_scale
from labflow.processing.peakfit import fit_group, gaussian, lorentzian, pseudo_voigt, shape_area
from labflow.processing.spectra import analyze_spectrum, is_counts
from labflow.processing.recipes import PeakParams, RecipeBook, validate_recipe

SIGMA_PER_FWHM = 1 / (2 * np.sqrt(2 * np.log(2)))


def spectrum(x: np.ndarray, lines: list[tuple[float, float, float]], background: np.ndarray | None = None,
             noise: float = 0.5, seed: int = 0) -> np.ndarray:
    """Gaussian lines (centre, height, fwhm) on a background, with white noise."""
    y = np.zeros_like(x) if background is None else background.copy()
    for centre, height, fwhm in lines:
        y += gaussian(x, height, centre, fwhm)
    return y + np.random.default_rng(seed).normal(0, noise, x.size)


def test_a_known_gaussian_has_its_position_height_fwhm_and_area():
    x = np.linspace(100.0, 1100.0, 4001)
    y = spectrum(x, [(503.37, 400.0, 12.0)], background=50 + 0.05 * x)
    result = analyze_spectrum(x, y, baseline="snip")
    assert result.table.height == 1
    row = result.table.row(0, named=True)
    assert row["position"] == pytest.approx(503.37, abs=0.05)  # sub-sample: the step is 0.25
    assert row["height"] == pytest.approx(400.0, rel=0.03)
    assert row["fwhm"] == pytest.approx(12.0, rel=0.05)
    assert row["area"] == pytest.approx(shape_area("gaussian", 400.0, 12.0), rel=0.04)
    assert row["left"] < 503.37 - 12 and row["right"] > 503.37 + 12
    assert np.nanmax(np.abs(result.baseline - (50 + 0.05 * x))) < 20


def test_descending_axis_and_dips_are_handled():
    x = np.linspace(4000.0, 400.0, 3601)  # FTIR order
    transmittance = 1.0 - spectrum(x, [(1730.0, 0.3, 20.0), (1160.0, 0.2, 30.0)], noise=0.002)
    result = analyze_spectrum(x, transmittance, baseline="arpls", polarity="auto")
    assert result.settings["polarity"] == "dips"
    positions = sorted(result.table["position"].to_list())
    assert positions == pytest.approx([1160.0, 1730.0], abs=1.0)
    assert (result.table["height"] > 0).all()
    assert result.baseline.shape == x.shape and np.isnan(result.baseline).sum() == 0


def test_wide_chromatographic_peak_stays_whole_under_a_width_sized_baseline():
    t = np.linspace(0.0, 30.0, 3601)  # minutes, 0.5 s steps
    y = spectrum(t, [(8.0, 100.0, 0.15), (18.0, 60.0, 2.5)], background=5 + 0.3 * t, noise=0.2)
    assert half_window(y) >= 3 * 2.5 / (t[1] - t[0]) * 0.8  # window follows the widest peak
    result = analyze_spectrum(t, y, baseline="snip", min_area_fraction=0.01)
    table = result.table.sort("position")
    assert table.height == 2
    wide = table.row(1, named=True)
    assert wide["position"] == pytest.approx(18.0, abs=0.05)
    assert wide["area"] == pytest.approx(shape_area("gaussian", 60.0, 2.5), rel=0.08)
    fixed = estimate_baseline(y, "snip", window=30)[0]  # a fixed narrow window clips the wide peak
    assert float(np.max(fixed[(t > 17) & (t < 19)] - (5 + 0.3 * 18))) > 20


def test_shoulder_is_split_with_its_own_bounds():
    x = np.linspace(0.0, 100.0, 2001)
    y = spectrum(x, [(50.0, 100.0, 6.0), (56.5, 40.0, 6.0)], noise=0.2)
    result = analyze_spectrum(x, y, baseline="none")
    table = result.table.sort("position")
    assert table.height == 2
    assert table["shoulder"].to_list() == [False, True]
    assert table["position"][1] == pytest.approx(56.5, abs=1.5)
    assert table["right"][0] == pytest.approx(table["left"][1])
    without = analyze_spectrum(x, y, baseline="none", shoulders=False)
    assert without.table.height == 1


def test_minimum_area_rule_and_noise_only():
    x = np.linspace(0.0, 100.0, 2001)
    y = spectrum(x, [(30.0, 100.0, 2.0), (70.0, 6.0, 2.0)], noise=0.5)
    assert analyze_spectrum(x, y, baseline="none").table.height == 2
    assert analyze_spectrum(x, y, baseline="none", min_area_fraction=0.1).table.height == 1
    noise = np.random.default_rng(5).normal(0, 1, 4000)
    assert analyze_spectrum(np.arange(4000.0), noise, baseline="snip").table.height <= 2


def test_counts_get_poisson_noise_and_spikes_on_empty_channels_are_not_lines():
    rng = np.random.default_rng(2)
    channels = np.arange(2048.0)
    expected = 2.0 + 400 * np.exp(-0.5 * ((channels - 700) / 4) ** 2)
    counts = rng.poisson(expected).astype(float)
    assert is_counts(counts) and not is_counts(counts + 0.5)
    result = analyze_spectrum(channels, counts, baseline="snip")
    assert result.table.height == 1 and result.table["position"][0] == pytest.approx(700, abs=0.5)
    assert "sqrt(baseline + 1)" in result.settings["noise_rule"]


@pytest.mark.parametrize("shape", ["gaussian", "lorentzian", "pseudo_voigt"])
def test_overlapping_peaks_are_fitted_to_their_true_positions_and_areas(shape):
    x = np.linspace(0.0, 60.0, 1201)
    truth = [(25.0, 80.0, 5.0), (31.0, 50.0, 5.0)]
    make = {"gaussian": gaussian, "lorentzian": lorentzian,
            "pseudo_voigt": lambda x, h, c, w: pseudo_voigt(x, h, c, w, 0.5)}[shape]
    y = sum(make(x, *t[1:2], t[0], t[2]) for t in truth) + np.random.default_rng(1).normal(0, 0.2, x.size)
    fitted = fit_group(x, y, [(70.0, 24.5, 4.0), (45.0, 31.5, 6.0)], shape)
    assert fitted is not None
    for (centre, height, fwhm), (h, c, w, area) in zip(truth, fitted):
        assert c == pytest.approx(centre, abs=0.1) and h == pytest.approx(height, rel=0.05)
        assert w == pytest.approx(fwhm, rel=0.05)
        assert area == pytest.approx(shape_area(shape, height, fwhm, 0.5), rel=0.06)
    result = analyze_spectrum(x, y, baseline="none", fit=shape)
    assert result.table["fitted"].all()
    assert sorted(result.table["position"].to_list()) == pytest.approx([25.0, 31.0], abs=0.2)


def test_peak_scale_and_unknown_baseline():
    x = np.arange(1000.0)
    y = spectrum(x, [(300.0, 50.0, 10.0), (600.0, 50.0, 30.0)], noise=0.3)
    assert 25 < peak_scale(y) < 35 and peak_scale(y, 10) < peak_scale(y)
    with pytest.raises(ValueError, match="unknown baseline"):
        estimate_baseline(y, "rolling")  # type: ignore[arg-type]


def test_detect_peaks_method_spectrum_gives_the_common_table():
    t = np.linspace(0.0, 20.0, 2401)
    y = spectrum(t, [(6.0, 50.0, 0.2), (12.0, 30.0, 0.4)], background=2.0 + 0.1 * t, noise=0.1)
    result = detect_peaks(t, y, PeakParams(method="spectrum", baseline="snip"))
    assert result.table["time_s"].to_list() == pytest.approx([6.0, 12.0], abs=0.02)
    assert result.table["width_s"].to_list() == pytest.approx([0.2, 0.4], rel=0.1)
    assert result.thresholds["baseline"] == "snip"


def test_recipe_is_chosen_by_axis_kind_after_instrument():
    book = RecipeBook({
        "raman": validate_recipe({"id": "raman", "axis_kinds": ["raman_shift"]}),
        "hplc": validate_recipe({"id": "hplc", "instruments": ["hplc-01"], "axis_kinds": ["time"]}),
    })
    assert book.for_run(instrument=None, axis_kind="raman_shift").id == "raman"
    assert book.for_run(instrument="hplc-01", axis_kind="raman_shift").id == "hplc"
    assert book.for_run(instrument=None, axis_kind="energy").id == "default"
    assert book.for_run(instrument=None, requested="raman", axis_kind="time").id == "raman"


def test_confirmed_peaks_keep_the_detected_numbers_under_a_spectrum_recipe():
    rng = np.random.default_rng(7)
    t = np.linspace(0, 30, 3001)
    y = 0.02 * t + sum(a * np.exp(-0.5 * ((t - c) / w) ** 2) for a, c, w in ((5, 8, 0.3), (2, 15, 0.8), (9, 22, 0.4)))
    y = y + rng.normal(0, 0.02, t.size)
    params = PeakParams(method="spectrum", baseline="snip")
    detected = detect_peaks(t, y, params).table
    assert detected.height == 3
    clicked = detected["time_s"].to_numpy() + np.array([0.05, -0.08, 0.03])  # a click is near, not on, the apex
    measured = measure_peaks(t, y, clicked, params=params)
    for column in ("time_s", "height", "width_s", "area"):
        assert measured[column].to_list() == pytest.approx(detected[column].to_list(), rel=1e-9), column
    assert measure_peaks(t, y, clicked)["area"].to_list() != pytest.approx(detected["area"].to_list(), rel=1e-3)
