import json

import numpy as np
import polars as pl
import pytest

from labflow.processing.quality import FLAGS, QualityReport, assess_quality, repeated_runs, stuck_samples
from labflow.processing.recipes import QualityParams

PARAMS = QualityParams()
CHANNELS = ["signal", "reference"]


def clean_frame(n: int = 2_000, seed: int = 0) -> pl.DataFrame:
    """Two channels of smooth signal plus a little noise, sampled every 10 ms."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) * 0.01
    return pl.DataFrame({
        "time_s": t,
        "signal": 2.0 * np.sin(2 * np.pi * t / 5.0) + rng.normal(0, 0.05, n),
        "reference": 1.0 + 0.5 * np.cos(2 * np.pi * t / 3.0) + rng.normal(0, 0.02, n),
    })


def with_values(frame: pl.DataFrame, column: str, values: np.ndarray) -> pl.DataFrame:
    return frame.with_columns(pl.Series(column, values, nan_to_null=True))


def test_a_clean_series_scores_high_without_flags():
    report = assess_quality(clean_frame(), CHANNELS, PARAMS)
    assert report.flags == []
    assert report.explanations == {}
    assert report.score > 0.98
    metrics = report.metrics
    assert metrics["missing_ratio"] == 0 and metrics["gap_count"] == 0 and metrics["duplicate_rows"] == 0
    assert metrics["median_step_s"] == pytest.approx(0.01)
    assert metrics["noise.signal"] == pytest.approx(0.05, rel=0.15)
    assert metrics["snr_db.signal"] > 20
    assert metrics["snr_db"] == min(metrics["snr_db.signal"], metrics["snr_db.reference"])


def test_missing_values_are_flagged_with_their_share():
    frame = clean_frame()
    values = frame["signal"].to_numpy().copy()
    values[::5] = np.nan
    report = assess_quality(with_values(frame, "signal", values), CHANNELS, PARAMS)
    assert report.flags == ["missing_values"]
    assert report.metrics["missing_ratio.signal"] == pytest.approx(0.2)
    assert report.metrics["missing_ratio"] == pytest.approx(0.1)
    assert "10.0%" in report.explanations["missing_values"]
    assert "signal 20.0%" in report.explanations["missing_values"]
    assert report.score < assess_quality(clean_frame(), CHANNELS, PARAMS).score


def test_a_few_missing_values_lower_the_score_without_a_flag():
    frame = clean_frame()
    values = frame["signal"].to_numpy().copy()
    values[[10, 20]] = np.nan
    report = assess_quality(with_values(frame, "signal", values), CHANNELS, PARAMS)
    assert "missing_values" not in report.flags
    assert report.score < assess_quality(frame, CHANNELS, PARAMS).score


def test_clipping_is_flagged():
    frame = clean_frame()
    clipped = np.minimum(frame["signal"].to_numpy(), 1.5)
    report = assess_quality(with_values(frame, "signal", clipped), CHANNELS, PARAMS)
    assert "clipping" in report.flags
    assert report.metrics["clipped_ratio.signal"] > 0.1
    assert "saturated" in report.explanations["clipping"]
    assert report.score < 0.8


def test_flatline_is_flagged():
    frame = clean_frame()
    values = frame["signal"].to_numpy().copy()
    values[500:560] = values[500]
    report = assess_quality(with_values(frame, "signal", values), CHANNELS, PARAMS)
    assert report.flags == ["flatline"]
    assert report.metrics["flatline_ratio.signal"] == pytest.approx(60 / 2_000)
    assert "stuck sensor" in report.explanations["flatline"]
    assert report.score < 0.95


def test_sampling_gaps_are_flagged():
    frame = clean_frame()
    gapped = pl.concat([frame[:800], frame[900:]])
    report = assess_quality(gapped, CHANNELS, PARAMS)
    assert report.flags == ["sampling_gaps"]
    assert report.metrics["gap_count"] == 1
    assert report.metrics["max_gap_s"] == pytest.approx(1.01)
    assert "1.01 s" in report.explanations["sampling_gaps"]
    assert report.score < 0.99


def test_duplicate_timestamps_are_flagged_in_the_series_and_from_the_parser():
    frame = clean_frame()
    duplicated = pl.concat([frame, frame[100:110]]).sort("time_s")
    report = assess_quality(duplicated, CHANNELS, PARAMS)
    assert report.flags == ["duplicate_timestamps"]
    assert report.metrics["duplicate_timestamps"] == 10
    dropped = assess_quality(frame, CHANNELS, PARAMS, duplicate_rows_dropped=7)
    assert dropped.flags == ["duplicate_timestamps"]
    assert dropped.metrics["duplicate_rows"] == 7
    assert "7 dropped while parsing" in dropped.explanations["duplicate_timestamps"]
    assert dropped.score < assess_quality(frame, CHANNELS, PARAMS).score


def test_noise_only_has_low_snr():
    frame = with_values(clean_frame(), "signal", np.random.default_rng(9).normal(size=2_000))
    report = assess_quality(frame, CHANNELS, PARAMS)
    assert report.flags == ["low_snr"]
    assert report.metrics["snr_db.signal"] < 0
    assert "signal" in report.explanations["low_snr"]
    assert report.score < 0.75


def test_score_falls_as_a_defect_grows():
    frame = clean_frame()
    scores = []
    for share in (0.0, 0.02, 0.1, 0.3):
        values = frame["signal"].to_numpy().copy()
        values[: int(share * values.size)] = np.nan
        scores.append(assess_quality(with_values(frame, "signal", values), CHANNELS, PARAMS).score)
    assert scores == sorted(scores, reverse=True) and len(set(scores)) == 4


def test_several_defects_raise_several_flags_in_a_stable_order():
    frame = clean_frame()
    values = np.minimum(frame["signal"].to_numpy(), 1.5)
    values[::4] = np.nan
    report = assess_quality(pl.concat([with_values(frame, "signal", values)[:800], frame[900:]]), CHANNELS, PARAMS)
    assert report.flags == [flag for flag in FLAGS if flag in report.flags]
    assert {"missing_values", "sampling_gaps"} <= set(report.flags)
    assert set(report.explanations) == set(report.flags)


def test_report_is_plain_json():
    report = assess_quality(clean_frame(), CHANNELS, PARAMS, duplicate_rows_dropped=2)
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert set(data) == {"score", "flags", "metrics", "explanations"}
    assert isinstance(report, QualityReport)


def test_constant_channel_is_a_flatline_not_clipping():
    frame = clean_frame().with_columns(pl.lit(3.0).alias("reference"))
    report = assess_quality(frame, CHANNELS, PARAMS)
    assert "flatline" in report.flags and "clipping" not in report.flags


def test_empty_series_scores_zero():
    report = assess_quality(clean_frame()[:0], CHANNELS, PARAMS)
    assert report.score == 0.0 and report.flags == ["no_data"]


def test_unknown_channel_is_named():
    with pytest.raises(ValueError, match="nope"):
        assess_quality(clean_frame(), ["nope"], PARAMS)


def test_repeated_runs_and_stuck_samples():
    values = np.array([1.0, 1.0, 1.0, 2.0, np.nan, np.nan, 5.0, 5.0, 5.0, 5.0, 3.0, 3.0])
    starts, lengths = repeated_runs(values)
    assert starts.tolist() == [0, 6, 10] and lengths.tolist() == [3, 4, 2]
    assert repeated_runs(np.array([1.0, 2.0, np.nan, np.nan]))[0].size == 0
    params = QualityParams(clipping_min_samples=3, flatline_min_samples=3)
    assert stuck_samples(values, params) == (7, 0)
    middle = np.array([0.0, 2.0, 2.0, 2.0, 9.0])
    assert stuck_samples(middle, params) == (0, 3)
