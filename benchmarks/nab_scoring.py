"""NAB's scoring rules in numpy, for tuning: the same numbers as the official scorer, in a second, not minutes.

The official scorer (``../shared/tools/nab-score``) stays the reference the benchmark reports; this copy of
its rules (NAB ``sweeper.py``, ``optimizer.py``, ``runner.normalize``: scaled-sigmoid window weights, the
probationary 15 % (at most 750 rows) ignored, one threshold optimized over all files, normalized against
the null detector) lets ``benchmarks/streams_tune.py`` score hundreds of settings. It gave 53.75 / 52.60 /
55.63 where the official scorer printed the same for a detector during development.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

PROFILES = {"standard": (1.0, 0.11, 1.0), "reward_low_FP_rate": (1.0, 0.22, 1.0),
            "reward_low_FN_rate": (1.0, 0.11, 2.0)}  # tp, fp, fn weights
_MAX_TP = 2 / (1 + math.exp(-5)) - 1


@dataclass
class NabFile:
    """One NAB data file, its values and each row's window (-1 outside), sweep weight and probation flag."""

    key: str
    values: np.ndarray
    window: np.ndarray
    weight: np.ndarray
    probation: np.ndarray
    windows: int


def _scaled_sigmoid(position: np.ndarray) -> np.ndarray:
    return np.where(position > 3.0, -1.0, 2 / (1 + np.exp(np.minimum(5 * position, 700))) - 1.0)


def load_corpus(nab_dir: Path, keys: list[str] | None = None) -> list[NabFile]:
    """The files of ``combined_windows.json`` (or ``keys`` of them) in NAB's order, with their row weights."""
    spans = json.loads((nab_dir / "combined_windows.json").read_text())
    files = []
    for key in sorted(keys if keys is not None else spans):
        frame = pl.read_csv(nab_dir / key)
        stamps = frame["timestamp"].to_list()
        where = {s: i for i, s in enumerate(stamps)}
        n = len(stamps)
        rows = np.arange(n)
        window, weight = np.full(n, -1), np.full(n, -1.0)
        previous, pos = None, 0
        for w, (a, b) in enumerate(spans[key]):
            left, right = where[a[:19]], where[b[:19]]
            if previous is not None:
                weight[pos:left] = _scaled_sigmoid(np.abs(previous[0] - rows[pos:left]) / (previous[1] - 1))
            width = right - left + 1
            weight[left:right + 1] = _scaled_sigmoid(-(right - rows[left:right + 1] + 1) / width)
            window[left:right + 1] = w
            previous, pos = (right, width), right + 1
        if previous is not None:
            weight[pos:] = _scaled_sigmoid(np.abs(previous[0] - rows[pos:]) / (previous[1] - 1))
        probation = rows < min(math.floor(0.15 * n), 0.15 * 5000)
        files.append(NabFile(key, frame["value"].cast(pl.Float64).to_numpy(), window, weight, probation,
                             len(spans[key])))
    return files


def nab_score(files: list[NabFile], scores: list[np.ndarray], profile: str = "standard") -> tuple[float, float]:
    """The normalized NAB score (100 perfect, 0 the null detector) at the best single threshold, and it."""
    tp_w, fp_w, fn_w = PROFILES[profile]
    values, windows, weights = [], [], []
    offset = total = 0
    for f, s in zip(files, scores):
        keep = ~f.probation
        values.append(np.asarray(s, dtype=float)[keep])
        w = f.window[keep]
        windows.append(np.where(w >= 0, w + offset, -1))
        weights.append(np.where(w >= 0, f.weight[keep] * tp_w / _MAX_TP, f.weight[keep] * fp_w))
        offset += f.windows
        total += f.windows
    value, window, weight = (np.concatenate(a) for a in (values, windows, weights))
    order = np.argsort(-value, kind="stable")
    scored = {int(w) for w in np.unique(window) if w >= 0}
    best_of_window = dict.fromkeys(scored, -fn_w)
    null = -fn_w * len(scored)
    false, in_windows = 0.0, null
    best, best_threshold, current = null, 1.1, None
    for v, w, u in zip(value[order].tolist(), window[order].tolist(), weight[order].tolist()):
        if v != current:
            if false + in_windows > best:
                best, best_threshold = false + in_windows, current
            current = v
        if w < 0:
            false += u
        elif u > best_of_window[w]:
            in_windows += u - best_of_window[w]
            best_of_window[w] = u
    if false + in_windows > best:
        best, best_threshold = false + in_windows, current
    return 100 * (best - null) / (total * tp_w - null), best_threshold
