"""Reporting periods: today / 7 days / 30 days / custom, their buckets (day, week, month) and the period before."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Literal

Bucket = Literal["day", "week", "month"]
BUCKETS: tuple[str, ...] = ("day", "week", "month")
_RELATIVE = re.compile(r"^(\d{1,4})d$")
MAX_DAYS = 3660  # ten years: longer periods (and their day buckets) are refused, not computed
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2200, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Period:
    """A half-open UTC interval ``[start, end)`` with a name for people."""

    start: datetime
    end: datetime
    label: str

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def previous(self) -> "Period":
        """The period of the same length just before this one (for comparisons)."""
        return Period(self.start - self.duration, self.start, f"before {self.label}")

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


def parse_period(spec: str = "7d", *, now: datetime | None = None, since: datetime | None = None,
                 until: datetime | None = None) -> Period:
    """``today``, ``<N>d`` (the last N days including today) or ``custom`` with ``since``/``until``.

    Days start at midnight UTC; the period always ends at the end of today (or ``until``).
    """
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    tomorrow = datetime.combine(now.date() + timedelta(days=1), time(), tzinfo=timezone.utc)
    spec = spec.strip().lower()
    if spec == "custom":
        if since is None or until is None:
            raise ValueError("a custom period needs both since and until")
        since, until = _utc(since), _utc(until)
        if until <= since:
            raise ValueError(f"the period must end after it starts (since {since}, until {until})")
        if since < EARLIEST or until > LATEST:
            raise ValueError(f"dates must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}")
        if until - since > timedelta(days=MAX_DAYS):
            raise ValueError(f"a period can be at most {MAX_DAYS} days long")
        return Period(since, until, f"{since:%Y-%m-%d} to {until:%Y-%m-%d}")
    if spec == "today":
        return Period(tomorrow - timedelta(days=1), tomorrow, "today")
    match = _RELATIVE.match(spec)
    if not match or not 1 <= int(match.group(1)) <= MAX_DAYS:
        raise ValueError(f"unknown period {spec!r}; use today, 7d, 30d (1 to {MAX_DAYS} days) or custom")
    days = int(match.group(1))
    return Period(tomorrow - timedelta(days=days), tomorrow, f"last {days} days")


def bucket_start(moment: datetime, bucket: Bucket) -> date:
    """The first day of the day/week (Monday)/month that ``moment`` falls in."""
    day = moment.astimezone(timezone.utc).date()
    if bucket == "day":
        return day
    if bucket == "week":
        return day - timedelta(days=day.weekday())
    if bucket == "month":
        return day.replace(day=1)
    raise ValueError(f"unknown bucket {bucket!r}; use {', '.join(BUCKETS)}")


def bucket_starts(period: Period, bucket: Bucket) -> list[date]:
    """Every bucket start from the period's start to its end, in order (empty buckets included)."""
    starts: list[date] = []
    current = bucket_start(period.start, bucket)
    last = bucket_start(period.end - timedelta(microseconds=1), bucket)
    while current <= last:
        starts.append(current)
        current = _next(current, bucket)
    return starts


def _next(day: date, bucket: Bucket) -> date:
    if bucket == "day":
        return day + timedelta(days=1)
    if bucket == "week":
        return day + timedelta(days=7)
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
