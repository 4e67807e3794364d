"""Iterations over the API: create, move through the state machine, run the loop assets, metrics, next windows."""

from __future__ import annotations

import dagster as dg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from lab_assets.etl import run_etl
from lab_assets.loop import LOOP_ASSETS
from lab_assets.review import annotations, confirmed_dataset
from labflow.review.store import ReviewStore
from lab_assets.gateway import DagsterGateway
from tests.lab_fixtures import process_run
from tests.loop_fixtures import KINDS, anomalous_series, oracle_confirm, series_csv

URL = "/api/v1/iterations"


@pytest.fixture
def loop_api(lab_settings, catalog, instance, lab_resources):
    defs = dg.Definitions(assets=[run_etl, annotations, confirmed_dataset, *LOOP_ASSETS], resources=lab_resources,
                          executor=dg.in_process_executor)
    gateway = DagsterGateway(instance, defs=defs)
    app = create_app(lab_settings, gateway=gateway)
    runs = {}
    for seed, kinds in enumerate([KINDS, ("spike", "shift"), ("burst",), (), ("shift",)]):
        t, y, truth = anomalous_series(seed, kinds)
        runs[process_run(lab_settings, catalog, instance, lab_resources, f"s{seed}.csv", series_csv(t, y))] = truth
    with TestClient(app) as client:
        yield client, gateway, runs


def test_an_iteration_is_created_driven_run_and_measured_over_the_api(loop_api, catalog, instance):
    client, gateway, runs = loop_api
    keys = list(runs)
    review = ReviewStore(catalog)
    for key in keys[:3]:
        oracle_confirm(review, key, runs[key])

    assert client.post(URL, json={"config": {"window": 2}}).status_code == 400
    created = client.post(URL, json={"actor": "ana", "config": {"holdout_runs": [keys[0]], "label_budget": 5}})
    assert created.status_code == 201 and created.headers["location"] == f"{URL}/1"
    body = created.json()
    assert body["state"] == "Created" and body["allowed"] == ["Annotating"] and body["key"] == "iteration-1"
    assert "iteration-1" in instance.get_dynamic_partitions("iterations")

    refused = client.post(f"{URL}/1/transitions", json={"to": "Training", "actor": "ana"})
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "from Created" in refused.json()["detail"] and "Annotating" in refused.json()["detail"]
    moved = client.post(f"{URL}/1/transitions", json={"to": "Annotating", "actor": "ana", "note": "go"})
    assert moved.status_code == 200 and moved.json()["state"] == "Annotating"

    assert client.get(f"{URL}/next-windows").status_code == 404  # no inference yet
    started = client.post(f"{URL}/1/run")
    assert started.status_code == 202 and started.json()["partition"] == "iteration-1"
    gateway.wait_for_local_runs()
    assert instance.get_run_by_id(started.json()["run_id"]).status == dg.DagsterRunStatus.SUCCESS

    one = client.get(f"{URL}/1").json()
    assert one["state"] == "Reviewing" and one["allowed"] == ["Completed", "Annotating"]
    assert [h["to_state"] for h in one["history"]][:3] == ["Created", "Annotating", "DataReady"]
    assert one["history"][1]["actor"] == "ana" and one["history"][1]["note"] == "go"
    metrics = client.get(f"{URL}/metrics").json()
    assert len(metrics) == 1 and 0.0 <= metrics[0]["event_f1"] <= 1.0 and metrics[0]["labels_spent"] > 0
    windows = client.get(f"{URL}/next-windows", params={"limit": 3}).json()
    assert [w["rank"] for w in windows] == [1, 2, 3]
    assert {w["run_key"] for w in windows} <= set(keys[3:])  # only runs nobody confirmed

    assert client.post(f"{URL}/1/transitions", json={"to": "Annotating"}).json()["state"] == "Annotating"
    assert client.get(URL).json()[0]["state"] == "Annotating"
    assert client.get(f"{URL}/9").status_code == 404
    assert client.post(f"{URL}/9/transitions", json={"to": "Annotating"}).status_code == 404
