"""QRS detection on synthetic ECGs: normal, paced-like, PVC-rich, with a long pause, noisy, inverted."""

from __future__ import annotations

import numpy as np
import pytest

from labflow.processing.peaks import detect_peaks
from labflow.processing.qrs import detect_qrs
from labflow.processing.recipes import PeakParams

RATE = 360.0


def wave(t: np.ndarray, centre: float, width: float, height: float) -> np.ndarray:
    return height * np.exp(-0.5 * ((t - centre) / width) ** 2)


def ecg(beats: list[tuple[float, str]], seconds: float, noise: float = 0.02, seed: int = 0
        ) -> tuple[np.ndarray, np.ndarray]:
    """A lead with P, QRS and T waves per beat; kind 'N' normal, 'V' wide ectopic, 'P' paced (spike + wide)."""
    t = np.arange(int(seconds * RATE)) / RATE
    y = 0.15 * np.sin(2 * np.pi * 0.3 * t)  # baseline wander
    for at, kind in beats:
        if kind == "N":
            y += wave(t, at - 0.16, 0.02, 0.15) + wave(t, at, 0.010, 1.2) - wave(t, at + 0.03, 0.01, 0.25)
            y += wave(t, at + 0.28, 0.05, 0.35)
        elif kind == "V":
            y += -wave(t, at, 0.035, 1.6) + wave(t, at + 0.3, 0.07, 0.5)
        else:
            y += wave(t, at - 0.02, 0.002, 1.0) + wave(t, at, 0.03, 0.9) - wave(t, at + 0.3, 0.07, 0.4)
    return t, y + np.random.default_rng(seed).normal(0, noise, t.size)


def regular(start: float, rr: float, count: int, kind: str = "N") -> list[tuple[float, str]]:
    return [(start + i * rr, kind) for i in range(count)]


def matched(found: np.ndarray, truth: np.ndarray, tolerance: float) -> int:
    return int(sum(np.min(np.abs(found - b)) <= tolerance for b in truth)) if found.size else 0


def check(beats: list[tuple[float, str]], t: np.ndarray, y: np.ndarray, tolerance: float = 0.05) -> np.ndarray:
    found = t[detect_qrs(y, RATE).peaks]
    truth = np.array([b for b, _ in beats])
    assert found.size == truth.size, (found, truth)
    assert matched(found, truth, tolerance) == truth.size
    return found


def test_normal_rhythm_finds_every_beat_and_no_t_wave() -> None:
    beats = regular(0.8, 0.8, 30)
    check(beats, *ecg(beats, 25.0))


def test_paced_rhythm_with_wide_complexes() -> None:
    beats = regular(0.7, 0.85, 28, "P")
    check(beats, *ecg(beats, 25.0))


def test_pvc_bigeminy_mixed_polarity() -> None:
    beats = [(0.8 + 0.75 * i, "V" if i % 2 else "N") for i in range(32)]
    check(beats, *ecg(beats, 25.0))


def test_long_pause_and_a_small_beat_after_it_are_found_by_search_back() -> None:
    beats = regular(0.8, 0.8, 15) + regular(0.8 + 14 * 0.8 + 2.6, 0.8, 12)
    t, y = ecg(beats, 25.0)
    small = beats[15][0]
    y -= 0.6 * wave(t, small, 0.010, 1.2)  # the first beat after the pause is small
    check(beats, t, y)


def test_inverted_lead_still_finds_beats() -> None:
    beats = regular(0.9, 0.9, 25)
    t, y = ecg(beats, 24.0)
    check(beats, t, -y)


def test_noisy_record() -> None:
    beats = regular(0.6, 0.7, 40)
    check(beats, *ecg(beats, 29.0, noise=0.12, seed=3), tolerance=0.05)


def test_missing_samples_are_bridged_and_short_series_give_nothing() -> None:
    beats = regular(0.8, 0.8, 20)
    t, y = ecg(beats, 17.0)
    y[2000:2010] = np.nan
    check(beats, t, y)
    assert detect_qrs(y[:500], RATE).peaks.size == 0


def test_too_slow_sampling_is_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="at least 50 Hz"):
        detect_qrs(np.zeros(1000), 10.0)


def test_detect_peaks_with_method_qrs_returns_a_measured_table() -> None:
    beats = regular(0.8, 0.8, 20)
    t, y = ecg(beats, 17.0)
    result = detect_peaks(t, y, PeakParams(method="qrs"))
    assert result.table.height == 20
    assert result.thresholds["method"].startswith("qrs")
    assert (result.table["width_s"] > 0).all()
    generic = detect_peaks(t, y, PeakParams())
    assert generic.thresholds["mode"] == "auto"
