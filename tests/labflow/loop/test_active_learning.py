"""Active learning: uncertain windows first, spread out in feature space; random as the baseline."""

from __future__ import annotations

import numpy as np
import polars as pl

from labflow.loop.active_learning import random_windows, rank_windows, uncertainty
from labflow.loop.windows import FEATURES


def test_active_learning_prefers_uncertain_and_diverse_windows():
    rng = np.random.default_rng(0)
    n = 60
    x = rng.normal(0, 1, (n, len(FEATURES)))
    x[:20] = x[0] + rng.normal(0, 1e-3, (20, len(FEATURES)))  # twenty near-copies, all very uncertain
    p = np.r_[np.full(20, 0.5), np.full(20, 0.45), np.full(20, 0.99)]
    scored = pl.DataFrame({"window_id": [f"w{i:02d}" for i in range(n)], "p_anomaly": p,
                           **{name: x[:, j] for j, name in enumerate(FEATURES)}})
    ranked = rank_windows(scored, 5, candidates=8)
    ids = ranked["window_id"].to_list()
    assert ranked["rank"].to_list() == [1, 2, 3, 4, 5] and ids[0] < "w20"
    assert sum(1 for i in ids if i < "w20") <= 2  # not five copies of one pattern
    assert all(i < "w40" for i in ids)  # never the confident ones
    assert "w00" not in rank_windows(scored, 5, exclude={"w00"})["window_id"].to_list()
    assert uncertainty(np.array([0.5, 0.0, 1.0])).tolist() == [1.0, 0.0, 0.0]
    assert random_windows(scored, 7, seed=1).height == 7
    assert rank_windows(scored.head(0), 5).height == 0
