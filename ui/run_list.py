"""The run list: filters as the person types them, one page of runs from the catalog, and its table."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pandas as pd

from labflow.store.catalog import REVIEW_STATUSES, RUN_SORTS, RUN_STATUSES, Catalog, RunRecord

ANY = "(any)"
PAGE_SIZE = 15
TABLE_COLUMNS = ("run", "instrument", "operator", "material", "experiment", "time (UTC)", "status", "review",
                 "quality", "flags")
REVIEW_LABELS = {"new": "new", "needs_review": "needs review", "confirmed": "confirmed", "rejected": "rejected"}
FILTER_FIELDS = ("instrument", "operator", "material", "experiment_id")


class FilterError(ValueError):
    """A filter the person typed cannot be used; the message says which and why."""


@dataclass(frozen=True)
class RunFilter:
    """The run list's filters and order, as catalog query arguments (``None`` = no filter)."""

    instrument: str | None = None
    operator: str | None = None
    material: str | None = None
    experiment_id: str | None = None
    review_status: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    sort: str = "time"
    descending: bool = True

    def query(self) -> dict[str, Any]:
        """Keyword filters for :meth:`Catalog.find_runs` / :meth:`Catalog.count_runs`."""
        names = (*FILTER_FIELDS, "review_status", "status", "since", "until")
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}


@dataclass(frozen=True)
class RunPage:
    """One page of the run list."""

    runs: list[RunRecord]
    page: int
    pages: int
    total: int
    filters: RunFilter = field(default_factory=RunFilter)

    @property
    def summary(self) -> str:
        if not self.total:
            return "No run matches these filters."
        return f"Page {self.page} of {self.pages} · {self.total} run{'s' * (self.total != 1)}"


def parse_filter(*, instrument: str | None = None, operator: str | None = None, material: str | None = None,
                 experiment_id: str | None = None, review: str | None = None, status: str | None = None,
                 since: Any = None, until: Any = None, sort: str = "time",
                 descending: bool = True) -> RunFilter:
    """A :class:`RunFilter` from the widgets' values; ``(any)`` and empty mean no filter.

    ``review`` accepts the labels shown (``needs review``) or the stored names; dates are ``YYYY-MM-DD``
    (or a timestamp / datetime from a date picker) and ``until`` includes its whole day.
    """
    review_status = _choice(review, {label: name for name, label in REVIEW_LABELS.items()}, REVIEW_STATUSES,
                            "review status")
    run_status = _choice(status, {}, RUN_STATUSES, "processing status")
    if sort not in RUN_SORTS:
        raise FilterError(f"sort by one of {', '.join(RUN_SORTS)}")
    start, end = _day(since, "from"), _day(until, "until")
    if end is not None:
        end += timedelta(days=1)
    if start is not None and end is not None and end <= start:
        raise FilterError("the date range ends before it starts: 'until' must be on or after 'from'")
    values = dict(instrument=instrument, operator=operator, material=material, experiment_id=experiment_id)
    exact = {k: v.strip() for k, v in values.items() if v and v.strip() and v != ANY}
    return RunFilter(**exact, review_status=review_status, status=run_status, since=start, until=end,
                     sort=sort, descending=bool(descending))


def find_page(catalog: Catalog, filters: RunFilter, page: int = 1, page_size: int = PAGE_SIZE) -> RunPage:
    """Page ``page`` (from 1, clamped to the last page) of the runs matching ``filters``."""
    total = catalog.count_runs(**filters.query())
    pages = max(1, -(-total // page_size))
    page = min(max(1, int(page)), pages)
    runs = catalog.find_runs(limit=page_size, offset=(page - 1) * page_size, sort=filters.sort,
                             descending=filters.descending, **filters.query())
    return RunPage(runs, page, pages, total, filters)


def page_table(page: RunPage) -> pd.DataFrame:
    """The page as the table shown: one row per run, quality score and flags readable."""
    rows = [[run.run_key, run.instrument or "", run.operator or "", run.material or "", run.experiment_id or "",
             f"{(run.started_at or run.detected_at):%Y-%m-%d %H:%M}", _status(run),
             REVIEW_LABELS.get(run.review_status, run.review_status)
             + (f" (v{run.annotation_version})" if run.annotation_version else ""),
             "" if run.quality_score is None else f"{run.quality_score:.2f}",
             ", ".join(run.quality_flags) or "—"] for run in page.runs]
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def filter_choices(catalog: Catalog) -> dict[str, list[str]]:
    """The values each exact filter can take, from the catalog, with ``(any)`` first."""
    return {name: [ANY, *catalog.distinct_values(name)] for name in FILTER_FIELDS}


def _status(run: RunRecord) -> str:
    return "failed ⚠" if run.status == "failed" else run.status


def _choice(value: str | None, labels: dict[str, str], allowed: tuple[str, ...], what: str) -> str | None:
    if value is None or value in ("", ANY):
        return None
    value = labels.get(value, value)
    if value not in allowed:
        raise FilterError(f"unknown {what} {value!r}; use one of {', '.join(allowed)}")
    return value


def _day(value: Any, which: str) -> datetime | None:
    """Midnight UTC of the day ``value`` names (a ``YYYY-MM-DD`` text, a timestamp or a datetime)."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        day = datetime.fromtimestamp(value, timezone.utc).date()
    elif isinstance(value, datetime):
        day = value.date()
    elif isinstance(value, date):
        day = value
    else:
        try:
            day = date.fromisoformat(str(value).strip()[:10])
        except ValueError:
            raise FilterError(f"date '{which}' must look like 2024-03-01, got {value!r}") from None
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
