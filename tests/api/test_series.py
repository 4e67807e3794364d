"""Series, peaks, quality and annotations read from the latest materializations; lazy mode asks for them."""

from __future__ import annotations

import io

import dagster as dg
import polars as pl
import pytest

from labflow.review.annotations import Annotation
from labflow.review.store import ReviewStore
from tests.api.conftest import InboxDaemon, make_settings, open_lab
from tests.lab_fixtures import drop, signal_csv


def url(key: str, tail: str) -> str:
    return f"/api/v1/runs/{key}/{tail}"


def test_the_raw_series_is_the_stored_one_sample_for_sample(demo):
    key = demo.runs["trace"]
    body = demo.client.get(url(key, "series/raw")).json()
    stored = demo.outputs.read_frame("raw_series", key)
    (channel,) = body["channels"]
    assert body["method"] is None and body["source_points"] == stored.height
    assert channel["name"] == "Intensity"
    assert channel["time_s"] == stored["time_s"].to_list() and channel["value"] == stored["Intensity"].to_list()


def test_minmax_downsampling_keeps_every_extreme(demo):
    key = demo.runs["session"]
    stored = demo.outputs.read_frame("clean_series", key)
    body = demo.client.get(url(key, "series/clean"), params={"points": 200, "channels": "lead_ii_mV"}).json()
    (channel,) = body["channels"]
    assert body["method"] == "minmax" and body["source_points"] == stored.height > 200
    assert len(channel["value"]) <= 200
    assert max(channel["value"]) == stored["lead_ii_mV"].max() and min(channel["value"]) == stored["lead_ii_mV"].min()


def test_lttb_gives_the_asked_number_of_points_inside_the_window(demo):
    key = demo.runs["log"]
    params = {"points": 50, "method": "lttb", "start": 100, "end": 900, "channels": ["temperature_C", "power_pct"]}
    body = demo.client.get(url(key, "series/clean"), params=params).json()
    assert [c["name"] for c in body["channels"]] == ["temperature_C", "power_pct"]
    for channel in body["channels"]:
        assert len(channel["time_s"]) == 50 and 100 <= min(channel["time_s"]) and max(channel["time_s"]) <= 900
    stored = demo.outputs.read_frame("clean_series", key).filter(pl.col("time_s").is_between(100, 900))
    assert body["source_points"] == stored.height


def test_the_series_downloads_as_long_csv_and_parquet(demo):
    key = demo.runs["run"]
    csv = demo.client.get(url(key, "series/clean"), params={"points": 20, "format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert pl.read_csv(io.BytesIO(csv.content)).columns == ["time_s", "channel", "value"]
    parquet = demo.client.get(url(key, "series/raw"), params={"format": "parquet"})
    frame = pl.read_parquet(io.BytesIO(parquet.content))
    assert frame.height == demo.outputs.read_frame("raw_series", key).height


@pytest.mark.parametrize(("params", "message"), [
    ({"channels": "nope"}, "no channel 'nope'"),
    ({"start": 10, "end": 5}, "must not be after end"),
    ({"points": 2}, "query.points"),
    ({"method": "average"}, "query.method"),
    ({"start": "soon"}, "query.start"),
])
def test_bad_series_requests_are_422(demo, params, message):
    response = demo.client.get(url(demo.runs["run"], "series/clean"), params=params)
    assert response.status_code == 422 and message in response.json()["detail"]


def test_an_unknown_series_kind_is_422(demo):
    assert demo.client.get(url(demo.runs["run"], "series/smoothed")).status_code == 422


def test_peaks_quality_and_annotation_history_are_the_stored_ones(demo):
    key = demo.runs["run"]
    peaks = demo.client.get(url(key, "peaks")).json()["peaks"]
    stored = demo.outputs.read_frame("peaks", key)
    assert [p["time_s"] for p in peaks] == stored["time_s"].to_list() and peaks[0]["channel"] == "Absorbance"
    table = pl.read_parquet(io.BytesIO(demo.client.get(url(key, "peaks"), params={"format": "parquet"}).content))
    assert table.equals(stored)
    quality = demo.client.get(url(key, "quality")).json()
    assert quality["score"] == demo.outputs.read_json("quality_report", key)["score"]
    (version,) = demo.client.get(url(key, "annotations")).json()
    assert version["version"] == 1 and version["author"] == "ana" and version["base_version"] == 0


def test_a_failed_run_has_no_series_and_says_why(demo):
    response = demo.client.get(url(demo.runs["broken"], "series/raw"))
    assert response.status_code == 409 and "'abc' is not a number" in response.json()["detail"]


def test_eager_mode_never_recomputes_a_missing_output(api):
    key = _ingest(api, etl_steps=["raw_file", "raw_series"])
    response = api.client.get(url(key, "peaks"))
    assert response.status_code == 404 and "not materialized yet" in response.json()["detail"]
    assert api.gateway.latest("peaks", key) is None
    assert not api.instance.get_runs(filters=dg.RunsFilter(tags={"labflow/requested_by": "api"}))


def test_lazy_mode_requests_the_missing_steps_and_answers_202_with_a_status_url(tmp_path, instance):
    lab = open_lab(make_settings(tmp_path / "lazy", LABFLOW_ETL_MODE="lazy"), instance)
    try:
        with lab.client:
            key = _ingest(lab)
            assert lab.gateway.latest("raw_series", key) and lab.gateway.latest("clean_series", key) is None
            first = lab.client.get(url(key, "series/clean"), params={"points": 100})
            assert first.status_code == 202
            job = first.json()
            assert first.headers["location"] == job["status_url"] == f"/api/v1/jobs/{job['job_id']}"
            lab.gateway.wait_for_local_runs()
            assert lab.client.get(job["status_url"]).json()["state"] == "succeeded"
            assert lab.client.get(url(key, "series/clean"), params={"points": 100}).status_code == 200
            assert lab.gateway.latest("peaks", key) is None  # only what was asked for
            second = lab.client.get(url(key, "peaks"))
            assert second.status_code == 202 and second.json()["job_id"] != job["job_id"]
            lab.gateway.wait_for_local_runs()
            assert lab.client.get(url(key, "peaks")).json()["peaks"]
    finally:
        lab.gateway.wait_for_local_runs()
        lab.catalog.dispose()


def test_a_new_confirmation_shows_in_the_history(api):
    key = _ingest(api)
    reviews = ReviewStore(api.catalog)
    reviews.confirm(key, "ana", Annotation(verdict="valid"), base_version=0)
    reviews.confirm(key, "ben", Annotation(verdict="invalid", reasons=("noise",)), base_version=1)
    history = api.client.get(url(key, "annotations")).json()
    assert [(v["version"], v["author"], v["annotation"]["verdict"]) for v in history] == [
        (1, "ana", "valid"), (2, "ben", "invalid")]
    assert history[1]["changes"] == ["verdict valid → invalid", "reasons none → noise"]
    assert api.client.get(f"/api/v1/runs/{key}").json()["review_status"] == "rejected"


def _ingest(lab, etl_steps: list[str] | None = None) -> str:
    """Drop one file and let the real inbox sensor and ETL run (only ``etl_steps`` if given)."""
    drop(lab.settings.inbox, "uv/run.csv", signal_csv(1))
    daemon = InboxDaemon(lab.settings, lab.instance, lab.resources)
    daemon.tick()
    (request,) = daemon.tick()
    daemon.execute(request, etl_steps)
    return request.partition_key


def test_series_values_survive_missing_samples(api):
    data = b"time_s,a,b\n" + b"".join(f"{i},{'' if i == 3 else i},{i * 2}\n".encode() for i in range(10))
    drop(api.settings.inbox, "gap.csv", data)
    daemon = InboxDaemon(api.settings, api.instance, api.resources)
    daemon.tick()
    (request,) = daemon.tick()
    daemon.execute(request)
    body = api.client.get(url(request.partition_key, "series/raw")).json()
    values = {c["name"]: c["value"] for c in body["channels"]}
    assert values["a"][3] is None and values["b"][3] == 6.0
    assert api.outputs.read_frame("raw_series", request.partition_key)["a"][3] is None
