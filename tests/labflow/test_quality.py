import json

import numpy as np
import polars as pl
import pytest

from labflow.processing.quality import (FLAGS, QualityReport, assess_quality, is_held, most_common, repeated_runs,
                                        stuck_samples, typical_repeat_share)
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


def test_constant_channel_is_named_not_a_flatline_or_clipping():
    frame = clean_frame().with_columns(pl.lit(3.0).alias("reference"))
    report = assess_quality(frame, CHANNELS, PARAMS)
    assert report.flags == ["constant_channels"]
    assert "reference" in report.explanations["constant_channels"]
    assert report.score == pytest.approx(assess_quality(frame, ["signal"], PARAMS).score * (1 - 0.5 * 0.5))
    assert "snr_db.reference" not in report.metrics


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


def test_most_common_is_the_sorted_count_mode():
    rng = np.random.default_rng(3)
    arrays = [rng.normal(size=5_000), np.round(rng.normal(size=5_000), 2), rng.integers(0, 4, 300).astype(float),
              np.array([-0.0, 0.0, 5.0, 5.0, 1.0]), np.array([2.0, 1.0, 2.0, 1.0]), np.array([7.0]),
              rng.normal(size=20).astype(np.float32)]
    for values in arrays:
        levels, counts = np.unique(values, return_counts=True)
        assert most_common(values) == levels[np.argmax(counts)]  # the smallest of the most common


def test_repeat_share_and_held_levels_match_a_plain_count():
    def plain_share(finite: np.ndarray) -> float:
        block = max(64, finite.size // 32)
        shares = []
        for start in range(0, finite.size - 1, block):
            part = finite[start: start + block + 1]
            levels, counts = np.unique(part[:-1], return_counts=True)
            at_mode = part[:-1] == levels[np.argmax(counts)]
            shares.append(float((part[1:][at_mode] == part[:-1][at_mode]).mean()))
        return float(np.median(shares))

    trace = quantized_trace()
    noisy = np.round(np.random.default_rng(4).normal(0, 0.05, 9_000), 6)
    assert typical_repeat_share(trace) == plain_share(trace) and 0 < typical_repeat_share(trace) < 1
    assert typical_repeat_share(noisy) == plain_share(noisy)
    steps = np.repeat([1.0, 2.0, 1.5, np.nan, 2.0], 200)
    assert is_held("oven", steps) and not is_held("oven", trace) and not is_held("oven", np.full(100, 2.0))
    assert not is_held("oven", np.repeat(np.arange(100.0), 10))  # 100 levels in 1000 samples: too many


def quantized_trace(n: int = 4_000, seed: int = 1) -> np.ndarray:
    """An integer detector trace: a flat baseline with sub-count noise (long equal runs) and two peaks."""
    rng = np.random.default_rng(seed)
    x = np.arange(n, dtype=float)
    peaks = 800 * np.exp(-0.5 * ((x - 1200) / 40) ** 2) + 300 * np.exp(-0.5 * ((x - 2600) / 60) ** 2)
    return np.round(100 + peaks + rng.normal(0, 0.3, n))


def test_quantized_baseline_is_not_a_flatline():
    values = quantized_trace()
    starts, lengths = repeated_runs(values)
    assert lengths.max() >= PARAMS.flatline_min_samples  # the old rule would have fired
    frame = pl.DataFrame({"time_s": np.arange(values.size) * 0.1, "fid": values})
    report = assess_quality(frame, ["fid"], PARAMS)
    assert "flatline" not in report.flags and "clipping" not in report.flags
    assert report.metrics["min_stuck_run.fid"] > PARAMS.flatline_min_samples
    assert report.score > 0.9


def test_a_stuck_stretch_of_a_quantized_trace_is_still_a_flatline():
    values = quantized_trace()
    values[3000:3600] = values[3000]
    frame = pl.DataFrame({"time_s": np.arange(values.size) * 0.1, "fid": values})
    report = assess_quality(frame, ["fid"], PARAMS)
    assert report.flags == ["flatline"]
    assert report.metrics["flatline_ratio.fid"] >= 600 / values.size
    assert "quantized" in report.explanations["flatline"]


def test_held_setpoint_is_not_clipping_but_a_saturated_detector_is():
    frame = clean_frame()
    steps = np.repeat([20.0, 150.0, 300.0, 150.0], 500)
    held = frame.with_columns(pl.Series("oven", steps), pl.Series("oven_setpoint_C", steps))
    report = assess_quality(held, ["signal", "oven", "oven_setpoint_C"], PARAMS)
    assert "clipping" not in report.flags and "flatline" not in report.flags
    assert report.metrics["held_level.oven"] == 1 and report.metrics["held_level.oven_setpoint_C"] == 1
    saturated = with_values(frame, "signal", np.minimum(frame["signal"].to_numpy(), 1.5))
    report = assess_quality(saturated, ["signal"], PARAMS)
    assert "clipping" in report.flags and "held_level.signal" not in report.metrics


def test_reader_notes_lower_the_score_and_are_explained():
    plain = assess_quality(clean_frame(), CHANNELS, PARAMS)
    noted = assess_quality(clean_frame(), CHANNELS, PARAMS, reader_notes=["x axis read from the calibration"])
    assert noted.flags == ["reader_notes"]
    assert "x axis read from the calibration" in noted.explanations["reader_notes"]
    assert noted.score == pytest.approx(plain.score * (1 - 0.1))
    many = assess_quality(clean_frame(), CHANNELS, PARAMS, reader_notes=[f"note {i}" for i in range(9)])
    assert many.score == pytest.approx(plain.score * 0.5)


# -- the channel that matters: main-channel SNR, too-short runs ---------------------------------------------


def test_a_noise_only_side_channel_is_named_but_does_not_sink_the_file():
    frame = with_values(clean_frame(), "reference", np.random.default_rng(9).normal(size=2_000))
    report = assess_quality(frame, CHANNELS, PARAMS, main="signal")
    assert "low_snr" not in report.flags and report.flags == ["noisy_side_channels"]
    assert "reference" in report.explanations["noisy_side_channels"]
    assert report.metrics["snr_db.reference"] < 0 and report.metrics["main_snr_db"] > 20
    assert 0.85 < report.score < assess_quality(clean_frame(), CHANNELS, PARAMS).score
    assert report.defects == []


def test_the_same_noise_on_the_main_channel_is_low_snr():
    frame = with_values(clean_frame(), "reference", np.random.default_rng(9).normal(size=2_000))
    report = assess_quality(frame, CHANNELS, PARAMS, main="reference")
    assert "low_snr" in report.flags and "reference" in report.explanations["low_snr"]
    assert report.defects == ["low_snr"] and report.score < 0.75
    with pytest.raises(ValueError, match="main channel 'nope'"):
        assess_quality(frame, CHANNELS, PARAMS, main="nope")


def test_too_few_samples_are_not_judged_for_snr_but_enough_noise_is():
    noise = np.random.default_rng(3).normal(size=200)
    short = pl.DataFrame({"time_s": np.arange(19.0), "voltage": noise[:19]})
    report = assess_quality(short, ["voltage"], PARAMS)
    assert report.flags == ["too_short_to_judge"]
    assert "low_snr" not in report.flags and report.metrics["penalty.low_snr"] == 0
    assert "voltage" in report.explanations["too_short_to_judge"]
    long = assess_quality(pl.DataFrame({"time_s": np.arange(200.0), "voltage": noise}), ["voltage"], PARAMS)
    assert long.flags == ["low_snr"]


# -- constant channels: unused slots and settings vs dead sensors ---------------------------------------


def test_zero_and_setting_channels_are_unused_not_defects():
    frame = clean_frame().with_columns(pl.lit(0.0).alias("VAR1"), pl.lit(0.02).alias("AC Amplitude"))
    report = assess_quality(frame, CHANNELS + ["VAR1", "AC Amplitude"], PARAMS)
    assert report.flags == ["unused_channels"] and report.defects == []
    assert "VAR1" in report.explanations["unused_channels"]
    assert "AC Amplitude hold a setting" in report.explanations["unused_channels"]
    assert report.score == pytest.approx(assess_quality(clean_frame(), CHANNELS, PARAMS).score)


def test_a_dead_sensor_stuck_away_from_zero_is_still_caught():
    frame = clean_frame().with_columns(pl.lit(4.2).alias("pressure"))
    report = assess_quality(frame, CHANNELS + ["pressure"], PARAMS)
    assert report.flags == ["constant_channels"] and "pressure" in report.explanations["constant_channels"]
    assert report.metrics["penalty.constant_channels"] == pytest.approx(0.5 / 3, abs=1e-6)
    dead_main = assess_quality(frame, CHANNELS + ["pressure"], PARAMS, main="pressure")
    assert dead_main.score == 0.0 and "main channel pressure" in dead_main.explanations["constant_channels"]


def test_every_channel_at_zero_is_still_nothing_measured():
    frame = clean_frame().with_columns(pl.lit(0.0).alias("signal"), pl.lit(0.0).alias("reference"))
    report = assess_quality(frame, CHANNELS, PARAMS)
    assert report.flags == ["constant_channels"] and report.score == 0.0


# -- multi-rate columns ---------------------------------------------------------------------------------


def test_a_column_recorded_every_tenth_row_is_not_missing_but_a_missed_sample_is():
    frame = clean_frame()
    slow = frame["reference"].to_numpy().copy()
    slow[np.arange(slow.size) % 10 != 3] = np.nan
    report = assess_quality(with_values(frame, "reference", slow), CHANNELS, PARAMS)
    assert report.flags == ["multi_rate_channels"] and report.metrics["missing_ratio"] == 0
    assert report.metrics["missing_by_design.reference"] == pytest.approx(0.9)
    assert "reference" in report.explanations["multi_rate_channels"]
    slow[1003] = np.nan  # one sample of the slow column lost: 10 rows of it
    holed = assess_quality(with_values(frame, "reference", slow), CHANNELS, PARAMS)
    assert holed.metrics["missing_ratio.reference"] == pytest.approx(10 / 2_000)
    assert holed.score < report.score


def test_columns_of_two_techniques_are_not_missing_but_a_sensor_that_stops_is():
    frame = clean_frame()
    first, second = frame["signal"].to_numpy().copy(), frame["reference"].to_numpy().copy()
    first[1200:], second[:1200] = np.nan, np.nan
    report = assess_quality(with_values(with_values(frame, "signal", first), "reference", second), CHANNELS, PARAMS)
    assert "missing_values" not in report.flags and "multi_rate_channels" in report.flags
    stopped = assess_quality(with_values(frame, "signal", first), CHANNELS, PARAMS)
    assert "missing_values" in stopped.flags and stopped.metrics["missing_ratio.signal"] == pytest.approx(0.4)


def test_a_slower_stretch_is_no_gap_but_a_lost_stretch_inside_it_is():
    t = np.concatenate([np.arange(1_000) * 0.01, 10.0 + np.arange(100) * 0.5])
    values = np.sin(t) + np.random.default_rng(4).normal(0, 0.01, t.size)
    report = assess_quality(pl.DataFrame({"time_s": t, "signal": values}), ["signal"], PARAMS)
    assert "sampling_gaps" not in report.flags
    lost = np.delete(np.arange(t.size), np.arange(1_040, 1_044))
    gapped = assess_quality(pl.DataFrame({"time_s": t[lost], "signal": values[lost]}), ["signal"], PARAMS)
    assert gapped.flags == ["sampling_gaps"] and gapped.metrics["max_gap_s"] == pytest.approx(2.5)


# -- counting data ---------------------------------------------------------------------------------------


def counting_spectrum(n: int = 4_000, seed: int = 5) -> np.ndarray:
    """A gamma-like spectrum: a discriminator cut below channel 40, peaks, a tail that fades to ~0 counts."""
    rng = np.random.default_rng(seed)
    x = np.arange(n, dtype=float)
    expected = 60 * np.exp(-x / 500) + 400 * np.exp(-0.5 * ((x - 900) / 8) ** 2)
    counts = rng.poisson(expected).astype(float)
    counts[:40] = 0
    return counts


def test_zero_runs_of_counting_data_where_nothing_is_expected_are_not_clipping():
    counts = counting_spectrum()
    assert stuck_samples(counts, PARAMS)[0] > 100  # the old rule saw clipping in the tail and the cut
    report = assess_quality(pl.DataFrame({"counts": counts}), ["counts"], PARAMS)
    assert "clipping" not in report.flags and "flatline" not in report.flags
    assert report.metrics["counting.counts"] == 1


def test_a_dead_stretch_of_counting_data_and_a_saturated_detector_are_still_clipping():
    counts = counting_spectrum()
    dead = counts.copy()
    dead[300:330] = 0  # ~30 counts per channel expected there
    report = assess_quality(pl.DataFrame({"counts": dead}), ["counts"], PARAMS)
    assert report.flags == ["clipping"] and report.metrics["clipped_ratio.counts"] >= 30 / counts.size
    saturated = np.minimum(counts, 200.0)
    report = assess_quality(pl.DataFrame({"counts": saturated}), ["counts"], PARAMS)
    assert "clipping" in report.flags and "saturated" in report.explanations["clipping"]
