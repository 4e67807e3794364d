"""Reading and checking consumption histories: clear errors with rows, problems reported, a regular grid."""

from __future__ import annotations

import polars as pl
import pytest

from labflow.forecasting.history import HistoryError, read_history_csv
from labflow.forecasting.demo import energy_csv, energy_frame


def _csv(frame: pl.DataFrame) -> bytes:
    return frame.with_columns(pl.col("timestamp").dt.strftime("%Y-%m-%d %H:%M:%S")).write_csv().encode()


def test_clean_history_is_read_with_its_covariates_and_step():
    history = read_history_csv(energy_csv(2), source="line3.csv")
    assert history.step_s == 3600
    assert history.covariates == ("temp", "production")
    assert history.frame.height == 2 * 7 * 24
    assert history.report.warnings() == []
    assert len(history.data_hash) == 64


def test_shared_file_layout_finds_the_load_column():
    frame = energy_frame(1).rename({"value": "load_kwh", "temp": "air_temperature_c"}).drop("production")
    history = read_history_csv(_csv(frame), source="b12.csv")
    assert history.covariates == ("air_temperature_c",)
    assert history.values[:3].tolist() == frame["load_kwh"][:3].to_list()


def test_gaps_duplicates_and_negative_readings_are_reported_not_fatal():
    frame = energy_frame(1)
    gapped = pl.concat([frame[:10], frame[15:]])  # 5 readings missing
    duplicated = pl.concat([gapped[:20], gapped[19:20].with_columns(pl.lit(99.0).alias("value")), gapped[20:]])
    broken = duplicated.with_columns(pl.when(pl.int_range(pl.len()) == 30).then(-4.0).otherwise(pl.col("value"))
                                     .alias("value"))
    history = read_history_csv(_csv(broken))
    report = history.report
    assert report.missing == 5 and len(report.gaps) == 1
    assert report.duplicate_rows == (21,)  # the first of the two rows (file line 21) was replaced
    assert report.negative_rows == (32,)
    assert history.frame.height == frame.height
    repeated = history.frame.filter(pl.col("timestamp") == gapped["timestamp"][19])
    assert repeated["value"].to_list() == [99.0]  # the last reading of the duplicate timestamp wins
    assert history.frame["value"].null_count() == 6  # 5 missing + 1 negative
    text = "; ".join(report.warnings())
    assert "1 gap(s), 5 missing" in text and "negative" in text and "duplicate" in text


def test_unreadable_timestamp_names_the_row():
    data = b"timestamp,value\n2024-01-01 00:00:00,1\nyesterday,2\n2024-01-01 02:00:00,3\n"
    with pytest.raises(HistoryError, match=r"row 3 \('yesterday'\)"):
        read_history_csv(data, source="line3.csv")


def test_text_in_a_value_column_names_the_row_and_column():
    data = b"timestamp,value,temp\n2024-01-01 00:00:00,1,5\n2024-01-01 01:00:00,2,warm\n2024-01-01 02:00:00,3,5\n"
    with pytest.raises(HistoryError, match=r"column 'temp'.*row 3 \('warm'\)"):
        read_history_csv(data)


def test_a_jump_by_a_thousand_is_a_unit_problem_with_its_row():
    frame = energy_frame(2)
    jumped = frame.with_columns(pl.when(pl.int_range(pl.len()) >= 7 * 24).then(pl.col("value") * 1000)
                                .otherwise(pl.col("value")).alias("value"))
    with pytest.raises(HistoryError, match=r"from row 170 \(2024-01-08\).*×1,\d\d\d.*kWh ↔ Wh"):
        read_history_csv(_csv(jumped))


def test_a_single_reading_in_wh_is_reported():
    frame = energy_frame(1).with_columns(pl.when(pl.int_range(pl.len()) == 50).then(pl.col("value") * 1000)
                                         .otherwise(pl.col("value")).alias("value"))
    assert read_history_csv(_csv(frame)).report.spike_rows == (52,)


def test_no_timestamp_column_and_unknown_value_column_say_what_to_name_them():
    with pytest.raises(HistoryError, match="no timestamp column"):
        read_history_csv(b"when,value\n1,2\n")
    with pytest.raises(HistoryError, match="which column is the consumption"):
        read_history_csv(b"timestamp,a,b\n2024-01-01 00:00:00,1,2\n")


def test_off_grid_timestamps_are_refused():
    data = b"timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 01:00:00,1\n2024-01-01 02:07:00,1\n" \
           b"2024-01-01 03:00:00,1\n"
    with pytest.raises(HistoryError, match=r"off the 1 h grid: row 4"):
        read_history_csv(data)
