"""Batch inference: score windows with the anomaly model and turn them into proposed anomaly intervals.

Consecutive (overlapping or touching) windows of a run whose probability reaches the threshold merge
into one proposed interval; its confidence is the highest probability among them.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from labflow.loop.model import predict

PROPOSAL_SCHEMA = {"run_key": pl.String, "start_s": pl.Float64, "end_s": pl.Float64, "confidence": pl.Float64,
                   "windows": pl.Int64}


def score_windows(model: bytes, windows: pl.DataFrame) -> pl.DataFrame:
    """The windows with ``p_anomaly``, the model's probability that each holds an anomaly."""
    return windows.with_columns(pl.Series("p_anomaly", predict(model, windows), dtype=pl.Float64))


def propose_intervals(scored: pl.DataFrame, threshold: float = 0.5, *, merge_gap: int = 0) -> pl.DataFrame:
    """Proposed anomaly intervals (run_key, start_s, end_s, confidence, windows) from scored windows.

    Hot windows overlapping or touching (or less than ``merge_gap`` samples apart) form one interval.
    """
    rows: list[tuple[str, float, float, float, int]] = []
    hot = scored.filter(pl.col("p_anomaly") >= threshold).sort("run_key", "start_index")
    for (run_key,), group in hot.group_by(["run_key"], maintain_order=True):
        current: list[float | int] | None = None
        for start_i, end_i, start_s, end_s, p in group.select("start_index", "end_index", "start_s", "end_s",
                                                              "p_anomaly").iter_rows():
            if current is not None and start_i <= current[4] + merge_gap:
                current[1], current[2], current[3] = max(current[1], end_s), max(current[2], p), current[3] + 1
                current[4] = max(current[4], end_i)
                continue
            if current is not None:
                rows.append((str(run_key), float(current[0]), float(current[1]), float(current[2]), int(current[3])))
            current = [start_s, end_s, p, 1, end_i]
        if current is not None:
            rows.append((str(run_key), float(current[0]), float(current[1]), float(current[2]), int(current[3])))
    return pl.DataFrame(rows, schema=PROPOSAL_SCHEMA, orient="row")


def run_inference(model: bytes, windows: pl.DataFrame, *, threshold: float = 0.5,
                  merge_gap: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Scored windows and the proposed intervals, for every run in ``windows`` at once."""
    scored = score_windows(model, windows)
    return scored, propose_intervals(scored, threshold, merge_gap=merge_gap)


def proposals_by_run(proposals: pl.DataFrame) -> dict[str, list[tuple[float, float]]]:
    """The proposed intervals of each run as (start_s, end_s) pairs."""
    result: dict[str, list[tuple[float, float]]] = {}
    for run_key, start, end in proposals.select("run_key", "start_s", "end_s").iter_rows():
        result.setdefault(run_key, []).append((start, end))
    return result


def confidence_range(proposals: pl.DataFrame) -> tuple[float, float]:
    """Lowest and highest confidence among the proposals ((0, 0) when there are none)."""
    if proposals.height == 0:
        return 0.0, 0.0
    values = proposals["confidence"].to_numpy()
    return float(np.min(values)), float(np.max(values))
