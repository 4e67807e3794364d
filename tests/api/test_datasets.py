"""The confirmed dataset for optimisers: read from the latest materialization, ETag and If-None-Match."""

from __future__ import annotations

import io
import time

import polars as pl
import pytest

from api.materialized import FRESH_FOR_S
from labflow.review.store import ReviewStore
from tests.api.conftest import detected_annotation
from tests.lab_fixtures import ReviewDaemon, latest_dataset, process_run, signal_csv

DATASET = "/api/v1/datasets/confirmed"


def test_the_dataset_has_one_point_per_confirmed_experiment_with_provenance(demo):
    response = demo.client.get(DATASET)
    (point,) = response.json()
    _, rows = latest_dataset(demo.instance)
    row = rows.row(0, named=True)
    assert point["experiment_id"] == "EXP-100" and point["campaign"] == "hplc-yield"
    assert point["run_ids"] == [demo.runs["run"]] and point["objective"] == row["objective"]
    assert set(point["inputs"]) == {"column_temperature_c", "flow_ml_min"}
    (provenance,) = point["provenance"]
    assert provenance["file_sha256"] == demo.catalog.get_run(demo.runs["run"]).sha256
    assert (provenance["confirmed_by"], provenance["annotation_version"]) == ("ana", 1)
    assert response.headers["etag"].startswith('"')


def test_a_poller_with_the_current_etag_gets_304_without_a_body(demo):
    etag = demo.client.get(DATASET).headers["etag"]
    again = demo.client.get(DATASET, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert demo.client.get(DATASET, headers={"If-None-Match": '"stale"'}).status_code == 200
    other = demo.client.get(DATASET, params={"campaign": "hplc-yield"}).headers["etag"]
    assert other != etag  # another selection is another representation


def test_campaign_and_time_filters(demo):
    assert demo.client.get(DATASET, params={"campaign": "other"}).json() == []
    assert len(demo.client.get(DATASET, params={"campaign": "hplc-yield"}).json()) == 1
    assert demo.client.get(DATASET, params={"since": "2999-01-01T00:00:00Z"}).json() == []
    assert len(demo.client.get(DATASET, params={"until": "2999-01-01T00:00:00"}).json()) == 1
    bad = demo.client.get(DATASET, params={"since": "2024-02-01T00:00:00Z", "until": "2024-01-01T00:00:00Z"})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"


def test_csv_and_parquet_give_one_row_per_run(demo):
    frame = pl.read_parquet(io.BytesIO(demo.client.get(DATASET, params={"format": "parquet"}).content))
    _, rows = latest_dataset(demo.instance)
    assert frame.equals(rows)
    csv = demo.client.get(DATASET, params={"format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv") and demo.runs["run"] in csv.text


def test_an_empty_lab_answers_an_empty_dataset(api):
    response = api.client.get(DATASET)
    assert response.status_code == 200 and response.json() == []


def test_a_new_confirmation_changes_the_etag_and_the_answer(api):
    daemon = ReviewDaemon(api.settings, api.instance, api.resources)
    first = process_run(api.settings, api.catalog, api.instance, api.resources, "a.csv", signal_csv(1),
                        sidecar={"experiment_id": "E1", "params": {"campaign": "c", "x": 1.0}})
    second = process_run(api.settings, api.catalog, api.instance, api.resources, "b.csv", signal_csv(2),
                         sidecar={"experiment_id": "E1", "params": {"campaign": "c", "x": 1.0}})
    reviews = ReviewStore(api.catalog)
    reviews.confirm(first, "ana", detected_annotation(api, first), base_version=0)
    daemon.tick()
    before = api.client.get(DATASET)
    (point,) = before.json()
    assert point["run_ids"] == [first]
    reviews.confirm(second, "ana", detected_annotation(api, second), base_version=0)
    assert api.client.get(DATASET, headers={"If-None-Match": before.headers["etag"]}).status_code == 304
    daemon.tick()  # the dataset is only what was materialized: now it includes the second run
    after = _next_version(api, before.headers["etag"])
    assert after.headers["etag"] != before.headers["etag"]
    (point,) = after.json()
    assert point["run_ids"] == [first, second]
    assert point["objective"] == pytest.approx(sum(o["value"] for o in _objectives(api, first, second)) / 2)


def _next_version(api, etag: str):
    """Poll like an optimiser: 304 until a new version shows (within the API's freshness window)."""
    deadline = time.monotonic() + FRESH_FOR_S + 2
    while time.monotonic() < deadline:
        response = api.client.get(DATASET, headers={"If-None-Match": etag})
        if response.status_code == 200:
            return response
        assert response.status_code == 304
        time.sleep(0.1)
    raise AssertionError("the new dataset version did not show")


def _objectives(api, *keys: str) -> list[dict]:
    return [api.outputs.read_json("annotations", key)["objective"] for key in keys]
