"""Generated instrument series with known anomalies, and an oracle annotator, for the loop's tests."""

from __future__ import annotations

import numpy as np

from labflow.review.annotations import Annotation, AnomalyInterval
from labflow.review.store import ReviewStore

DT = 0.1
KINDS = ("spike", "shift", "burst")


def anomalous_series(seed: int, kinds: tuple[str, ...], n: int = 600, strength: float = 1.0
                     ) -> tuple[np.ndarray, np.ndarray, list[tuple[float, float]]]:
    """Time (s), values and the true anomaly intervals of a wavy noisy signal with one anomaly per kind
    (``strength`` scales how far the anomalies stand out)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) * DT
    y = 2.0 * np.sin(t / 3.0 + seed) + rng.normal(0, 0.2, n)
    truth = []
    slots = np.linspace(80, n - 80, len(kinds) + 2)[1:-1].astype(int) if kinds else []
    for kind, at in zip(kinds, slots):
        at = int(at + rng.integers(-20, 20))
        length = {"spike": 4, "shift": 30, "burst": 30}[kind]
        if kind == "spike":
            y[at:at + length] += 4.0 * strength
        elif kind == "shift":
            y[at:at + length] += 2.5 * strength
        else:
            y[at:at + length] += rng.normal(0, 1.5 * strength, length)
        truth.append((float(t[at]), float(t[at + length - 1])))
    return t, y, truth


def series_csv(t: np.ndarray, y: np.ndarray) -> bytes:
    lines = ["time_s,signal"] + [f"{a:.1f},{b:.5f}" for a, b in zip(t, y)]
    return ("\n".join(lines) + "\n").encode()


def oracle_confirm(review: ReviewStore, run_key: str, truth: list[tuple[float, float]]) -> None:
    """Confirm the run with exactly its true anomaly intervals (a perfect annotator)."""
    head = review.latest_version(run_key)
    intervals = tuple(AnomalyInterval(start_s=a, end_s=b) for a, b in truth)
    review.confirm(run_key, "oracle", Annotation(channel="signal", intervals=intervals),
                   base_version=head.version if head else 0)
