"""Chart data: few points from big runs, markers that break the line, zoom windows, histograms."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from labflow.review.annotations import AnomalyInterval
from labflow.review.session import preview_processing
from labflow.processing.recipes import Recipe
from ui.charts import (BAND_STROKES, INTERVAL_COLOR, MAX_CHART_ROWS, PEAK_COLOR, PEAKS_SERIES,
                       PREVIEW_PEAKS_SERIES, build_chart, histogram, interval_series, series_name)


def run_frame(n: int = 2_000_000, channels: tuple[str, ...] = ("a", "b")) -> pl.DataFrame:
    t = np.arange(n) * 0.001
    rng = np.random.default_rng(1)
    columns = {"time_s": t}
    for i, channel in enumerate(channels):
        y = (i + 1) * 100 * np.exp(-0.5 * ((t - t[-1] / 2) / 5) ** 2) + rng.normal(0, 0.1, n)
        columns[channel], columns[f"{channel}_clean"] = y, y
    return pl.DataFrame(columns)


def test_two_million_points_become_a_thousand_rows_with_every_extreme():
    frame = run_frame()
    chart = build_chart(frame, ["a"], marker_channel="a", peaks=[1000.0])
    assert len(chart.frame) <= MAX_CHART_ROWS
    raw = chart.frame[chart.frame["series"] == series_name("a", "raw")]
    assert raw["value"].max() == pytest.approx(frame["a"].max())  # min/max keeps the spikes
    assert raw["value"].min() == pytest.approx(frame["a"].min())
    assert set(chart.frame["series"]) == {"a · raw", "a · cleaned", PEAKS_SERIES}
    assert chart.color_map[PEAKS_SERIES] == PEAK_COLOR
    assert chart.caption.startswith("Whole run, 0–2000 s: 2,000,000 samples · each line drawn through its minima")


def test_a_peak_marker_is_a_segment_above_the_signal_between_empty_rows():
    frame = run_frame(n=20_000)
    apex = float(frame["time_s"][int(frame["a"].arg_max())])
    chart = build_chart(frame, ["a"], marker_channel="a", peaks=[apex])
    marker = chart.frame[chart.frame["series"] == PEAKS_SERIES]["value"].to_numpy()
    assert np.isnan(marker[0]) and np.isnan(marker[-1])
    assert frame["a_clean"].max() < marker[1] < marker[2]


def test_zooming_sends_the_window_only_at_full_detail():
    frame = run_frame(n=200_000)
    chart = build_chart(frame, ["a"], window=(90.0, 90.2), intervals=[AnomalyInterval(start_s=80, end_s=90.1)])
    lines = chart.frame[chart.frame["series"].isin(["a · raw", "a · cleaned"])]
    assert lines["time_s"].between(90.0, 90.2).all()
    assert len(lines) == 2 * 201  # every sample of the window: nothing to drop
    band = chart.frame[chart.frame["series"] == interval_series("anomaly")].dropna()
    assert band["time_s"].min() == pytest.approx(90.0) and band["time_s"].max() == pytest.approx(90.1)  # clipped
    assert chart.caption == "Zoomed to 90–90.2 s: 201 of the run's 200,000 samples"  # every sample drawn


def test_an_anomaly_interval_is_a_labelled_band_over_the_whole_height_under_the_lines():
    frame = run_frame(n=20_000, channels=("a",))
    chart = build_chart(frame, ["a"], marker_channel="a", peaks=[10.0], units={"a": "mV"},
                        intervals=[AnomalyInterval(start_s=4, end_s=6, label="bubble")])
    name = interval_series("bubble")
    band = chart.frame[chart.frame["series"] == name]
    lines = chart.frame[chart.frame["series"] != name]
    assert chart.frame["series"].iloc[1] == name  # first rows: drawn under the signal
    assert band["value"].min() == pytest.approx(lines["value"].min())  # from the bottom of the chart...
    assert band["value"].max() >= lines["value"].max()  # ...to above the peak markers
    strokes = band.dropna()
    assert strokes["time_s"].between(4, 6).all() and len(strokes) >= 0.9 * BAND_STROKES * 2 / 20
    assert chart.color_map[name] == INTERVAL_COLOR and chart.y_title == "a (mV)"
    assert len(chart.frame) <= MAX_CHART_ROWS


def test_channels_share_the_time_axis_and_can_be_scaled():
    frame = run_frame(n=10_000)
    chart = build_chart(frame, ["a", "b"], show_raw=False, normalise=True)
    assert set(chart.frame["series"]) == {"a · cleaned", "b · cleaned"}
    for _, values in chart.frame.groupby("series")["value"]:
        assert values.min() == pytest.approx(0.0) and values.max() == pytest.approx(1.0)
    assert len(set(chart.color_map.values())) == 2


def test_too_many_peaks_are_not_drawn_but_said():
    frame = run_frame(n=10_000)
    chart = build_chart(frame, ["a"], marker_channel="a", peaks=list(np.linspace(1, 9, 200)))
    assert PEAKS_SERIES not in set(chart.frame["series"])
    assert "200 peaks in view: zoom in" in chart.caption


def test_a_preview_adds_its_line_and_peaks():
    frame = run_frame(n=20_000, channels=("a",))
    raw = frame.select("time_s", "a")
    result = preview_processing(raw, Recipe(id="t"), {"smoothing.window": 51})
    chart = build_chart(frame, ["a"], marker_channel="a", preview=result)
    assert {"a · preview", PREVIEW_PEAKS_SERIES} <= set(chart.frame["series"])


def test_unknown_channels_are_named():
    with pytest.raises(KeyError, match="unknown channel"):
        build_chart(run_frame(n=100), ["pressure"])


def test_histogram_counts_the_samples_in_view():
    frame = run_frame(n=50_000)
    outline = histogram(frame, "a", window=(10.0, 20.0), bins=25)
    counts = outline["count"].to_numpy()[1:-1:2]  # each bar's height appears twice
    assert counts.sum() == 10_001 and len(counts) == 25
    assert outline["value"].iloc[0] == pytest.approx(frame.filter(pl.col("time_s").is_between(10, 20))["a"].min())


def test_the_axis_name_and_unit_title_the_chart():
    frame = run_frame(n=2_000)
    chart = build_chart(frame, ["a"], axis=("Raman shift", "cm-1"))
    assert chart.x_title == "Raman shift (cm-1)" and chart.caption.startswith("Whole run, 0–1.999 cm-1: ")
    assert build_chart(frame, ["a"]).x_title == "time (s)"
