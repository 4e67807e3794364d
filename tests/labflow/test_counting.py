"""Lines in counting spectra: Poisson significance, the detector's resolution, the discriminator edge, fits."""

from __future__ import annotations

import numpy as np
import pytest

from labflow.processing.counting import discriminator_end, find_lines, line_significance, resolution
from labflow.processing.line_fit import measure_lines
from labflow.processing.spectra import analyze_spectrum, measure_spectrum_at

N = 4096
GAUSS_AREA = float(np.sqrt(np.pi / (4 * np.log(2))))


def true_fwhm(channel: np.ndarray | float) -> np.ndarray:
    """The synthetic detector: FWHM^2 = 9 + 0.01 x channel (3 channels at 0, 6.7 at 3500)."""
    return np.sqrt(9.0 + 0.01 * np.asarray(channel, dtype=np.float64))


LINES = [(300.0, 4000.0), (900.0, 1500.0), (1500.0, 2500.0), (2500.0, 900.0), (3500.0, 1200.0)]  # channel, counts


def continuum(channels: np.ndarray, edge: int = 60) -> np.ndarray:
    """A falling Compton-like continuum, with nothing below the discriminator and a ramp up to it."""
    level = 400.0 * np.exp(-channels / 1200.0) + 20.0
    ramp = np.clip((channels - edge + 15) / 15.0, 0.0, 1.0)
    return level * ramp


def expected_counts(lines: list[tuple[float, float]], background: np.ndarray) -> np.ndarray:
    channels = np.arange(N, dtype=np.float64)
    total = background.copy()
    for centre, net in lines:
        width = float(true_fwhm(centre))
        total += net / (width * GAUSS_AREA) * np.exp(-4 * np.log(2) * ((channels - centre) / width) ** 2)
    return total


def poisson(expected: np.ndarray, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).poisson(expected).astype(np.float64)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_line_is_found_and_nothing_else(seed):
    channels = np.arange(N, dtype=np.float64)
    counts = poisson(expected_counts(LINES, continuum(channels)), seed)
    found = find_lines(counts, 5.0)
    assert found.channels.size == len(LINES)
    for (centre, _), channel in zip(LINES, found.channels):
        assert abs(channel - centre) <= 1


@pytest.mark.parametrize("seed", range(5))
def test_a_pure_continuum_gives_no_line(seed):
    channels = np.arange(N, dtype=np.float64)
    assert find_lines(poisson(continuum(channels), seed), 5.0).channels.size == 0


def test_the_resolution_is_found_in_the_spectrum():
    channels = np.arange(N, dtype=np.float64)
    counts = poisson(expected_counts(LINES, continuum(channels)), 3)
    model = resolution(counts, discriminator_end(counts))
    fitted = model.fwhm(N)
    for channel in (300, 1500, 3500):
        assert fitted[channel] == pytest.approx(true_fwhm(channel), rel=0.2)
    assert model.lines >= 3 and "fitted to" in model.describe()


def test_the_discriminator_edge_is_the_top_of_the_ramp_and_no_line_is_found_in_it():
    channels = np.arange(N, dtype=np.float64)
    counts = poisson(continuum(channels, edge=60) + expected_counts([(2000.0, 3000.0)], np.zeros(N)), 4)
    edge = discriminator_end(counts)
    assert 50 <= edge <= 75
    assert list(find_lines(counts, 5.0).channels) == [pytest.approx(2000, abs=1)]
    assert discriminator_end(np.full(100, 5.0)) == 0


def test_significance_is_in_standard_deviations_of_the_counts():
    channels = np.arange(N, dtype=np.float64)
    fwhm = true_fwhm(channels)
    flat = np.full(N, 500.0)
    assert np.abs(line_significance(flat, fwhm)).max() < 1e-6  # a flat continuum gives nothing, ends included
    many = np.vstack([line_significance(poisson(flat, seed), fwhm)[200:-200] for seed in range(20)])
    assert np.std(many) == pytest.approx(1.0, rel=0.1)  # pure Poisson noise: one standard deviation


def test_net_counts_of_isolated_lines_and_of_a_doublet():
    channels = np.arange(N, dtype=np.float64)
    doublet = [(3000.0, 2000.0), (3000.0 + 1.5 * float(true_fwhm(3000.0)), 1000.0)]  # resolved at 1.5 FWHM
    lines = [(1500.0, 2500.0)] + doublet
    counts = poisson(expected_counts(lines, continuum(channels)), 5)
    found = find_lines(counts, 5.0)
    assert found.channels.size == 3
    m = measure_lines(counts, found.channels, found.fwhm, found.significance)
    assert m.fitted.all()
    for (centre, net), got_centre, got_net in zip(lines, m.centroid, m.net):
        assert got_centre == pytest.approx(centre, abs=0.5)
        assert got_net == pytest.approx(net, abs=4 * np.sqrt(net + 400))  # 4 sigma of the counts under the line


def test_a_wide_low_line_on_a_high_continuum_is_found_only_by_its_significance():
    """A NaI-like line: 4 % above a 5000-count continuum at its top, but thousands of net counts.

    As in a NaI background spectrum, one clear line (here at channel 800, FWHM growing as the square root
    of the channel) gives the resolution.
    """
    channels = np.arange(1024, dtype=np.float64)
    background = 5000.0 * np.exp(-channels / 700.0)
    width = 30.0
    line = 200 * np.exp(-4 * np.log(2) * ((channels - 500) / width) ** 2)
    clear_width = width * np.sqrt(800 / 500)
    line += 3000 * np.exp(-4 * np.log(2) * ((channels - 800) / clear_width) ** 2)
    counts = np.random.default_rng(6).poisson(background + line).astype(np.float64)
    assert counts.min() > 0 and 200 / np.sqrt(background[500]) < 5  # not 5 noise levels high in any channel
    plain = analyze_spectrum(channels, counts, baseline="snip")
    assert not (np.abs(plain.table["position"].to_numpy() - 500) < 15).any()
    result = analyze_spectrum(channels, counts, baseline="snip", counting_lines=True)
    near = result.table.filter((result.table["position"] - 500).abs() < 10)
    assert near.height == 1 and near["snr"][0] >= 5
    assert near["area"][0] == pytest.approx(200 * width * GAUSS_AREA, rel=0.25)
    assert "Poisson significance" in result.settings["line_rule"]


def test_a_person_placing_a_line_gets_the_detected_measures():
    channels = np.arange(N, dtype=np.float64)
    counts = poisson(expected_counts(LINES, continuum(channels)), 7)
    detected = analyze_spectrum(channels, counts, counting_lines=True).table
    placed = measure_spectrum_at(channels, counts, np.array([1502.0]), 5.0, counting_lines=True)
    row = detected.filter((detected["position"] - 1500).abs() < 2)
    assert placed.height == 1 and row.height == 1
    for column in ("position", "height", "fwhm", "area", "snr"):
        assert placed[column][0] == pytest.approx(row[column][0], rel=1e-9)


def test_a_signal_that_is_not_counts_falls_back_and_says_so():
    channels = np.arange(2048, dtype=np.float64)
    signal = 5.0 * np.exp(-0.5 * ((channels - 700) / 4) ** 2) - 1.0 + np.random.default_rng(8).normal(0, 0.1, 2048)
    result = analyze_spectrum(channels, signal, counting_lines=True)
    assert "not counts" in result.settings["line_rule"]
    assert (np.abs(result.table["position"].to_numpy() - 700) < 1).any()


def test_a_recipe_cannot_count_smoothed_values():
    from labflow.processing.recipes import RecipeError, validate_recipe

    base = {"id": "g", "peaks": {"method": "spectrum", "counting": True}}
    with pytest.raises(RecipeError, match="source 'raw'"):
        validate_recipe(base)
    assert validate_recipe({**base, "peaks": {**base["peaks"], "source": "raw"}}).peaks.counting


def test_the_baseline_of_a_spectrum_cut_by_its_discriminator_follows_the_continuum():
    """NaI-like: nothing below channel 15, a jump and a ramp to a hump at 56, then a steep fall. SNIP
    extrapolating that ramp once put the baseline thousands of counts below zero; past the edge it must stay
    under the continuum and close to it."""
    channels = np.arange(1001, dtype=np.float64)
    background = np.where(channels < 15, 0.0, np.where(
        channels < 56, 536 + (3000 - 536) * (channels - 15) / 41, 3000 * np.exp(-(channels - 56) / 120) + 60))
    line = 20000 / (30 * GAUSS_AREA) * np.exp(-4 * np.log(2) * ((channels - 700) / 30) ** 2)
    line += 40000 / (25 * GAUSS_AREA) * np.exp(-4 * np.log(2) * ((channels - 400) / 25) ** 2)
    counts = poisson(background + line, 9)
    result = analyze_spectrum(channels, counts, counting_lines=True)
    edge = int(result.settings["discriminator_edge"])
    away = (channels > edge + 100) & (np.abs(channels - 700) > 60) & (np.abs(channels - 400) > 50)
    assert np.nanmin(result.baseline) >= 0
    assert np.all(result.baseline[away] <= background[away] + 4 * np.sqrt(background[away]))
    assert np.median(result.baseline[away] / background[away]) > 0.85
