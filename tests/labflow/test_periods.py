"""Reporting periods and buckets."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from labflow.ops.periods import bucket_start, bucket_starts, parse_period

NOW = datetime(2026, 3, 4, 15, 30, tzinfo=timezone.utc)  # a Wednesday


def test_relative_periods_end_at_the_end_of_today():
    week = parse_period("7d", now=NOW)
    assert (week.start, week.end) == (datetime(2026, 2, 26, tzinfo=timezone.utc), datetime(2026, 3, 5, tzinfo=timezone.utc))
    today = parse_period("today", now=NOW)
    assert today.duration.days == 1 and today.contains(NOW)
    previous = week.previous()
    assert previous.end == week.start and previous.duration == week.duration


def test_custom_and_bad_periods():
    custom = parse_period("custom", since=datetime(2026, 1, 1), until=datetime(2026, 2, 1))
    assert custom.start.tzinfo is not None and custom.duration.days == 31
    for spec, kwargs in [("yesterday", {}), ("0d", {}), ("9999d", {}), ("custom", {}),
                         ("custom", {"since": datetime(2026, 2, 1), "until": datetime(2026, 1, 1)}),
                         ("custom", {"since": datetime(273, 8, 3), "until": datetime(7366, 6, 22)}),
                         ("custom", {"since": datetime(2000, 1, 1), "until": datetime(2020, 1, 1)})]:
        with pytest.raises(ValueError):
            parse_period(spec, now=NOW, **kwargs)


def test_buckets_by_day_week_and_month():
    assert bucket_start(NOW, "week") == date(2026, 3, 2) and bucket_start(NOW, "month") == date(2026, 3, 1)
    month = parse_period("custom", since=datetime(2026, 1, 15), until=datetime(2026, 3, 2))
    assert bucket_starts(month, "month") == [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]
    assert len(bucket_starts(parse_period("30d", now=NOW), "day")) == 30
    with pytest.raises(ValueError):
        bucket_start(NOW, "year")  # type: ignore[arg-type]
