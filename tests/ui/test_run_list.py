"""The run list: filters as typed in the app, paging and sorting, against a real catalog."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from labflow.review.annotations import Annotation
from labflow.store.catalog import Catalog
from labflow.ingest.metadata import RunMetadata
from labflow.review.store import ReviewStore
from ui.run_list import ANY, FilterError, filter_choices, find_page, page_table, parse_filter

RUNS = [  # key, instrument, operator, material, experiment, start day (March 2024), quality, flags
    ("r01", "hplc-01", "alice", "PLA-A", "EXP-1", 1, 0.95, []),
    ("r02", "hplc-01", "bob", "PLA-B", "EXP-1", 2, 0.40, ["noise"]),
    ("r03", "ecg-01", "alice", None, "EXP-2", 3, 0.80, []),
    ("r04", "ecg-01", "chen", None, None, 10, None, []),
    ("r05", "hplc-01", "alice", "PLA-A", "EXP-3", 20, 0.70, ["sampling_gaps", "clipping"]),
]


@pytest.fixture
def filled(catalog: Catalog) -> Catalog:
    for key, instrument, operator, material, experiment, day, quality, flags in RUNS:
        catalog.register_file(run_key=key, sha256=key * 21 + "x", size_bytes=1, original_name=f"{key}.csv",
                              source=f"inbox:{key}.csv", object_path=f"/o/{key}", sidecar_name=None,
                              sidecar_text=None, detected_at=datetime(2024, 4, 1, tzinfo=timezone.utc))
        catalog.set_metadata(key, RunMetadata(instrument, operator, material, experiment,
                                              datetime(2024, 3, day, 12, tzinfo=timezone.utc)))
        if quality is not None:
            catalog.set_quality(key, quality, flags)
            catalog.set_status(key, "processed")
    return catalog


def keys(page) -> list[str]:
    return [run.run_key for run in page.runs]


def test_any_and_empty_mean_no_filter():
    assert parse_filter(instrument=ANY, operator="", material=None, review=ANY, status=ANY).query() == {}


def test_exact_filters_combine(filled):
    page = find_page(filled, parse_filter(instrument="hplc-01", operator="alice"))
    assert sorted(keys(page)) == ["r01", "r05"] and page.total == 2


def test_review_status_accepts_the_shown_labels(filled):
    ReviewStore(filled).confirm("r03", "ana", Annotation(verdict="invalid"), base_version=0)
    assert keys(find_page(filled, parse_filter(review="rejected"))) == ["r03"]
    # flagged runs nobody confirmed need review; unflagged unreviewed runs are new
    assert sorted(keys(find_page(filled, parse_filter(review="needs review")))) == ["r02", "r05"]
    assert sorted(keys(find_page(filled, parse_filter(review="new")))) == ["r01", "r04"]


def test_date_range_includes_the_whole_last_day(filled):
    page = find_page(filled, parse_filter(since="2024-03-02", until="2024-03-10"))
    assert sorted(keys(page)) == ["r02", "r03", "r04"]


def test_sorting_by_quality_puts_unscored_runs_last(filled):
    assert keys(find_page(filled, parse_filter(sort="quality"))) == ["r01", "r03", "r05", "r02", "r04"]
    assert keys(find_page(filled, parse_filter(sort="quality", descending=False))) == [
        "r02", "r05", "r03", "r01", "r04"]


def test_paging_is_clamped_to_the_pages_there_are(filled):
    first = find_page(filled, parse_filter(sort="run_key", descending=False), page=1, page_size=2)
    last = find_page(filled, parse_filter(sort="run_key", descending=False), page=99, page_size=2)
    assert keys(first) == ["r01", "r02"] and keys(last) == ["r05"]
    assert (last.page, last.pages, last.total) == (3, 3, 5)
    assert last.summary == "Page 3 of 3 · 5 runs"
    assert find_page(filled, parse_filter(instrument="nope")).summary == "No run matches these filters."


def test_the_table_shows_quality_flags_and_review(filled):
    table = page_table(find_page(filled, parse_filter(sort="run_key", descending=False)))
    r05 = table[table["run"] == "r05"].iloc[0]
    assert (r05["quality"], r05["flags"], r05["review"]) == ("0.70", "sampling_gaps, clipping", "needs review")
    r04 = table[table["run"] == "r04"].iloc[0]
    assert (r04["quality"], r04["status"]) == ("", "queued")


def test_filter_choices_come_from_the_catalog(filled):
    choices = filter_choices(filled)
    assert choices["instrument"] == [ANY, "ecg-01", "hplc-01"]
    assert choices["experiment_id"] == [ANY, "EXP-1", "EXP-2", "EXP-3"]


@pytest.mark.parametrize("kwargs, message", [
    ({"since": "2024-03-10", "until": "2024-03-01"}, "ends before it starts"),
    ({"since": "10/03/2024"}, "must look like 2024-03-01"),
    ({"review": "maybe"}, "unknown review status"),
    ({"status": "done"}, "unknown processing status"),
    ({"sort": "colour"}, "sort by one of"),
])
def test_bad_filters_say_what_is_wrong(kwargs, message):
    with pytest.raises(FilterError, match=message):
        parse_filter(**kwargs)
