"""Runs: filtered, cursor-paged listing (JSON, CSV, Parquet), one run's detail, errors as problems."""

from __future__ import annotations

import io

import polars as pl
import pytest

RUNS = "/api/v1/runs"


def keys(page: dict) -> list[str]:
    return [item["run_key"] for item in page["items"]]


def test_every_run_is_listed_newest_first_with_its_status(demo):
    page = demo.client.get(RUNS).json()
    assert page["total"] == 5 and page["next_cursor"] is None
    statuses = {item["run_key"]: (item["status"], item["review_status"]) for item in page["items"]}
    assert statuses[demo.runs["run"]] == ("processed", "confirmed")
    assert statuses[demo.runs["broken"]][0] == "failed"
    times = [item["started_at"] or item["detected_at"] for item in page["items"]]
    assert times == sorted(times, reverse=True)


@pytest.mark.parametrize(("query", "expected"), [
    ({"instrument": "hplc-01"}, ["run"]),
    ({"instrument": "ecg-01"}, ["session"]),
    ({"operator": "alice", "instrument": "hplc-01"}, ["run"]),
    ({"experiment_id": "EXP-200"}, ["trace"]),
    ({"status": "failed"}, ["broken"]),
    ({"review_status": "confirmed"}, ["run"]),
    ({"instrument": "nowhere"}, []),
])
def test_filters_select_the_matching_runs(demo, query, expected):
    assert keys(demo.client.get(RUNS, params=query).json()) == [demo.runs[name] for name in expected]


def test_material_and_quality_filters_agree_with_the_catalog(demo):
    run = demo.catalog.get_run(demo.runs["trace"])
    assert demo.runs["trace"] in keys(demo.client.get(RUNS, params={"material": run.material}).json())
    scored = [r for r in demo.catalog.find_runs(limit=10) if r.quality_score is not None]
    low = min(r.quality_score for r in scored)
    page = demo.client.get(RUNS, params={"min_quality": low, "max_quality": 1}).json()
    assert sorted(keys(page)) == sorted(r.run_key for r in scored)


def test_a_date_selects_the_runs_of_that_utc_day(demo):
    run = demo.catalog.get_run(demo.runs["log"])
    day = (run.started_at or run.detected_at).date().isoformat()
    assert demo.runs["log"] in keys(demo.client.get(RUNS, params={"date": day}).json())
    assert keys(demo.client.get(RUNS, params={"date": "1999-01-01"}).json()) == []


def test_cursor_paging_visits_every_run_once(demo):
    seen, cursor = [], None
    for _ in range(10):
        page = demo.client.get(RUNS, params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        seen += keys(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 5 and sorted(seen) == sorted(demo.runs.values())


@pytest.mark.parametrize(("params", "message"), [
    ({"limit": 0}, "query.limit"),
    ({"limit": 5000}, "query.limit"),
    ({"status": "done"}, "query.status"),
    ({"colour": "red"}, "query.colour"),
    ({"min_quality": 0.9, "max_quality": 0.1}, "min_quality must not be above max_quality"),
    ({"since": "2024-03-02T00:00:00Z", "until": "2024-03-01T00:00:00Z"}, "must be before until"),
    ({"date": "2024-03-01", "since": "2024-03-01T00:00:00Z"}, "either date or since/until"),
    ({"date": "0"}, "ISO 8601"),
    ({"cursor": "not-a-cursor"}, "cursor is not valid"),
])
def test_bad_queries_are_422_problems_that_say_what_is_wrong(demo, params, message):
    response = demo.client.get(RUNS, params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422 and problem["title"] == "Unprocessable Entity" and message in problem["detail"]


def test_a_cursor_cannot_be_reused_with_other_filters(demo):
    cursor = demo.client.get(RUNS, params={"limit": 1}).json()["next_cursor"]
    response = demo.client.get(RUNS, params={"limit": 1, "cursor": cursor, "instrument": "hplc-01"})
    assert response.status_code == 422 and "other filters" in response.json()["detail"]


def test_the_list_downloads_as_csv_and_parquet(demo):
    csv = demo.client.get(RUNS, params={"format": "csv", "limit": 2})
    assert csv.headers["content-type"].startswith("text/csv") and csv.headers["x-total-count"] == "5"
    assert "x-next-cursor" in csv.headers
    rows = pl.read_csv(io.BytesIO(csv.content))
    assert rows.height == 2 and "run_key" in rows.columns
    parquet = demo.client.get(RUNS, params={"format": "parquet"})
    frame = pl.read_parquet(io.BytesIO(parquet.content))
    assert sorted(frame["run_key"].to_list()) == sorted(demo.runs.values())
    assert frame.schema["detected_at"] == pl.Datetime("us", "UTC")


def test_a_run_detail_has_metadata_asset_states_quality_and_latest_annotation(demo):
    key = demo.runs["run"]
    detail = demo.client.get(f"{RUNS}/{key}").json()
    assert (detail["instrument"], detail["operator"], detail["experiment_id"]) == ("hplc-01", "alice", "EXP-100")
    assert detail["params"]["campaign"] == "hplc-yield"
    states = {a["asset"]: a for a in detail["assets"]}
    assert all(states[a]["materialized"] for a in ("raw_file", "raw_series", "clean_series", "peaks",
                                                    "quality_report", "annotations"))
    latest = demo.gateway.latest("peaks", key)
    assert states["peaks"]["dagster_run_id"] == latest.run_id
    report = demo.outputs.read_json("quality_report", key)
    assert detail["quality"]["score"] == report["score"] and detail["quality"]["flags"] == report["flags"]
    annotation = detail["latest_annotation"]
    assert annotation["version"] == 1 and annotation["author"] == "ana"
    assert annotation["annotation"]["verdict"] == "valid" and annotation["annotation"]["peaks"]


def test_a_failed_run_shows_its_error_and_missing_assets(demo):
    detail = demo.client.get(f"{RUNS}/{demo.runs['broken']}").json()
    assert detail["status"] == "failed" and "'abc' is not a number" in detail["error"]
    states = {a["asset"]: a["materialized"] for a in detail["assets"]}
    assert states["raw_file"] and not states["raw_series"] and detail["quality"] is None


@pytest.mark.parametrize(("path", "status"), [
    (f"{RUNS}/unknown-0123456789", 404),
    (f"{RUNS}/bad%20key!", 422),
    ("/api/v1/jobs/0000-no-such-run", 404),
    ("/api/v2/runs", 404),
])
def test_unknown_things_are_problems(demo, path, status):
    response = demo.client.get(path)
    assert response.status_code == status and response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"]


def test_a_wrong_method_is_a_405_problem(demo):
    response = demo.client.delete(RUNS)
    assert response.status_code == 405 and "DELETE is not allowed" in response.json()["detail"]
