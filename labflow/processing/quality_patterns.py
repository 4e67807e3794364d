"""What working instruments do by design that a naive quality check takes for a defect.

- **Multi-rate and multi-record columns.** A column recorded every ``k``-th row (a slow gauge beside a fast
  one) or only in the rows of one technique or record type (a potentiostat's chronopotentiometry columns after
  its CV columns) leaves empty cells by design. :func:`missing_by_design` counts them, so that only the holes
  in a column's own pattern are missing values.
- **Slower stretches.** A run that changes its sampling rate (a second technique, a logger's slow mode) has
  long steps that are not gaps: :func:`time_gaps` measures each long step against the steps around it.
- **Counting data.** Counts are non-negative integers (Poisson); where the expected count is about 0 (the
  tail of a gamma spectrum, the dark floor of a CCD), runs of zeros are what the physics gives, and below or
  above a discriminator threshold the edge channels hold no counts at all. :func:`explained_zero_runs`
  tells those runs from a dead stretch.

>>> present = np.array([[True, True, True, False, False], [False, False, False, True, True]])
>>> missing_by_design(present).tolist()   # two techniques: each column's empty rows are the other's
[2, 3]
>>> missing_by_design(np.array([[True, True, True, False, False], [True] * 5])).tolist()  # a sensor dropped out
[0, 0]
"""

from __future__ import annotations

import math

import numpy as np

from labflow.processing.counting import is_counts

LOCAL_STEPS = 8
"""Steps on each side of a long time step that tell the local sampling rate (17 steps with the step itself)."""
CADENCE_MIN_SHARE = 0.5
"""A column is recorded every ``k``-th row when at least this share of its row steps is ``k``."""
GAP_CHUNK = 65_536


def is_counting(values: np.ndarray) -> bool:
    """Counts: every finite value a non-negative integer, and some above 1 (not a 0/1 flag)."""
    return is_counts(values, more_than=1.0)


def explained_zero_runs(values: np.ndarray, starts: np.ndarray, lengths: np.ndarray,
                        run_chance: float) -> np.ndarray:
    """Which runs of a counting channel are zero counts that Poisson statistics or a discriminator explain.

    A zero run touching the first or last finite sample is a discriminator cut (no counts below or above a
    threshold, by design). Inside, the run of ``L`` zeros is compared with the ``L`` samples on each side
    (``M`` samples holding ``K`` counts): if the rate were the same there, the chance that all ``K + 0``
    counts fell outside the run is ``(M / (L + M))^K``; the run is explained unless fewer than
    ``run_chance`` such runs are expected in the whole channel (``n (M / (L + M))^K < run_chance``).
    """
    explained = np.zeros(starts.size, dtype=bool)
    finite = np.flatnonzero(np.isfinite(values))
    if finite.size == 0:
        return explained
    first, last = finite[0], finite[-1]
    limit = math.log(max(1, finite.size) / run_chance)
    for i, (start, length) in enumerate(zip(starts, lengths)):
        if values[start] != 0:
            continue
        end = start + length
        if start <= first or end - 1 >= last:
            explained[i] = True
            continue
        around = np.concatenate([values[max(0, start - length):start], values[end:end + length]])
        around = around[np.isfinite(around)]
        counts = float(around.sum())
        explained[i] = around.size == 0 or counts * math.log((length + around.size) / around.size) <= limit
    return explained


def cadence(rows: np.ndarray) -> int:
    """``k`` when a column is recorded every ``k``-th row (``k`` on at least half its steps), else 1."""
    if rows.size < 3:
        return 1
    steps, counts = np.unique(np.diff(rows), return_counts=True)
    k = int(steps[np.argmax(counts)])
    return k if k > 1 and counts.max() >= CADENCE_MIN_SHARE * (rows.size - 1) else 1


def missing_by_design(present: np.ndarray) -> np.ndarray:
    """Per channel (rows of ``present``, a channels x rows bool matrix), the empty cells that are its pattern.

    Between its first and last value, a column recorded every ``k``-th row misses ``k - 1`` rows per step by
    design; a longer step is a hole (its rows beyond ``k`` are missing). Before its first and after its last
    value, the empty rows are by design when fewer than ``k`` (the pattern's phase) or when another column
    holds values there and none in this column's stretch: another technique or record type took those rows.
    A sensor that stops while the others go on leaves real missing values.
    """
    by_design = np.zeros(present.shape[0], dtype=np.int64)
    for c, row in enumerate(present):
        rows = np.flatnonzero(row)
        if rows.size == 0 or rows.size == row.size:
            continue
        k = cadence(rows)
        steps = np.diff(rows)
        holes = steps[np.round(steps / k) >= 2] - k
        inside = int(rows[-1] - rows[0] + 1 - rows.size - holes.sum())
        edges = [slice(0, rows[0]), slice(rows[-1] + 1, row.size)]
        outside = sum(s.stop - s.start for s in edges
                      if s.stop > s.start and (s.stop - s.start < k or _taken(present, rows, s)))
        by_design[c] = inside + outside
    return by_design


def _taken(present: np.ndarray, rows: np.ndarray, stretch: slice) -> bool:
    """Another column has values in ``stretch`` and none between this column's first and last value."""
    own = present[:, rows[0]: rows[-1] + 1].any(axis=1)  # True for column c itself
    return bool((present[:, stretch].any(axis=1) & ~own).any())


def time_gaps(steps: np.ndarray, median: float, factor: float) -> tuple[np.ndarray, np.ndarray]:
    """Gap steps and the local usual step of each: longer than ``factor`` x the median step *and* than
    ``factor`` x the median of the ``2 x LOCAL_STEPS + 1`` steps around it (a slower stretch is no gap)."""
    if median <= 0:
        return steps[:0], steps[:0]
    candidates = np.flatnonzero(steps > factor * median)
    local = np.empty(candidates.size)
    offsets = np.arange(-LOCAL_STEPS, LOCAL_STEPS + 1)
    for begin in range(0, candidates.size, GAP_CHUNK):
        at = candidates[begin: begin + GAP_CHUNK]
        window = steps[np.clip(at[:, None] + offsets, 0, steps.size - 1)]
        local[begin: begin + GAP_CHUNK] = np.median(window, axis=1)
    gap = steps[candidates] > factor * local
    return steps[candidates][gap], local[gap]
