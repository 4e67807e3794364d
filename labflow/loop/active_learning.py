"""Which windows to label next: the model's most uncertain ones, spread out in feature space.

:func:`rank_windows` keeps the ``candidates × budget`` windows whose probability is closest to 0.5,
then picks greedily: first the most uncertain, then each time the candidate farthest (in standardised
feature space) from those already picked, weighted by its uncertainty. So a batch does not spend its
labels on twenty near-copies of one confusing pattern. :func:`random_windows` is the baseline.

Reference: the "uncertainty + diversity" batch strategies surveyed in Settles, *Active Learning
Literature Survey* (2009), §3 and §6.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import polars as pl

from labflow.loop.model import features


def uncertainty(p_anomaly: np.ndarray) -> np.ndarray:
    """1 at p = 0.5, 0 at p = 0 or 1."""
    return 1.0 - np.abs(2.0 * np.asarray(p_anomaly, dtype=np.float64) - 1.0)


def rank_windows(scored: pl.DataFrame, budget: int, *, exclude: Collection[str] = (),
                 candidates: int = 5) -> pl.DataFrame:
    """The ``budget`` windows most useful to label next (``rank`` 1 first), with their ``uncertainty``."""
    pool = scored.filter(~pl.col("window_id").is_in(list(exclude))) if exclude else scored
    if pool.height == 0 or budget < 1:
        return pool.head(0).with_columns(pl.lit(0).alias("rank"), pl.lit(0.0).alias("uncertainty"))
    pool = pool.with_columns(pl.Series("uncertainty", uncertainty(pool["p_anomaly"].to_numpy())))
    pool = pool.sort("uncertainty", "window_id", descending=[True, False]).head(max(budget * candidates, budget))
    x = features(pool)
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-9)
    weight = 0.25 + pool["uncertainty"].to_numpy()
    chosen = [0]
    distance = np.linalg.norm(x - x[0], axis=1)
    while len(chosen) < min(budget, pool.height):
        score = distance * weight
        score[chosen] = -1.0
        best = int(np.argmax(score))
        chosen.append(best)
        distance = np.minimum(distance, np.linalg.norm(x - x[best], axis=1))
    return pool[chosen].with_columns(pl.Series("rank", np.arange(1, len(chosen) + 1)))


def random_windows(pool: pl.DataFrame, budget: int, *, exclude: Collection[str] = (), seed: int = 0) -> pl.DataFrame:
    """``budget`` windows drawn uniformly from those not in ``exclude`` (the baseline sampler)."""
    left = pool.filter(~pl.col("window_id").is_in(list(exclude))) if exclude else pool
    if left.height == 0:
        return left
    index = np.random.default_rng(seed).choice(left.height, size=min(budget, left.height), replace=False)
    return left[np.sort(index).tolist()]
