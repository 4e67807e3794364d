"""Downsampling for charts: LTTB and min/max over a time window."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from labflow.processing.downsample import downsample_frame, downsample_lttb


def test_lttb_keeps_the_ends_the_size_and_a_single_spike():
    x = np.arange(100_000, dtype=float)
    y = np.zeros_like(x)
    y[54_321] = 10.0
    dx, dy = downsample_lttb(x, y, 500)
    assert dx.size == 500 and dx[0] == 0 and dx[-1] == x[-1]
    assert np.all(np.diff(dx) > 0) and 54_321 in dx and dy.max() == 10.0


def test_lttb_leaves_short_series_and_drops_missing_values():
    x, y = np.arange(10.0), np.arange(10.0)
    y[3] = np.nan
    dx, dy = downsample_lttb(x, y, 100)
    assert dx.size == 9 and not np.isnan(dy).any()
    with pytest.raises(ValueError):
        downsample_lttb(x, y, 2)


def test_frame_window_and_channels_in_long_format():
    frame = pl.DataFrame({"time_s": np.arange(10_000.0), "a": np.sin(np.arange(10_000.0)),
                          "a_clean": np.zeros(10_000)})
    out = downsample_frame(frame, ["a", "a_clean"], 200, method="lttb", start=1000, end=2000)
    assert out.columns == ["time_s", "channel", "value"]
    assert set(out["channel"]) == {"a", "a_clean"}
    assert out["time_s"].min() >= 1000 and out["time_s"].max() <= 2000
    assert out.filter(pl.col("channel") == "a").height == 200
    minmax = downsample_frame(frame, ["a"], 200)
    assert minmax.height <= 200 and minmax["value"].max() == pytest.approx(frame["a"].max())


def test_frame_errors_name_the_problem():
    frame = pl.DataFrame({"time_s": [0.0, 1.0], "a": [1.0, 2.0]})
    with pytest.raises(KeyError, match="no column"):
        downsample_frame(frame, ["b"], 10)
    with pytest.raises(ValueError, match="unknown downsampling method"):
        downsample_frame(frame, ["a"], 10, method="mean")  # type: ignore[arg-type]
