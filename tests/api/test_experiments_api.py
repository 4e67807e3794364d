"""Experiments, recommendations and campaigns over the API; arriving files linked to their experiment."""

from __future__ import annotations

import pytest

from labflow.review.store import ReviewStore
from tests.api.conftest import InboxDaemon, detected_annotation
from tests.lab_fixtures import drop, signal_csv

EXPERIMENTS = "/api/v1/experiments"
RECOMMENDATIONS = "/api/v1/recommendations"


def point(x: float, mean: float, phase: str = "model_driven") -> dict:
    return {"parameters": {"x": x}, "mean": mean, "uncertainty": 0.2, "phase": phase, "model_version": "gp-3"}


def test_registering_an_experiment_is_idempotent_and_a_clash_is_409(api):
    body = {"experiment_id": "EXP-9", "campaign": "demo", "inputs": {"x": 0.5, "solvent": "water"},
            "file_pattern": "exp9_*.csv"}
    created = api.client.post(EXPERIMENTS, json=body)
    assert created.status_code == 201 and created.headers["location"] == f"{EXPERIMENTS}/EXP-9"
    assert created.json()["inputs"] == {"x": 0.5, "solvent": "water"} and created.json()["runs"] == []
    assert api.client.post(EXPERIMENTS, json=body).status_code == 200
    clash = api.client.post(EXPERIMENTS, json={**body, "inputs": {"x": 0.6}})
    assert clash.status_code == 409 and "already registered" in clash.json()["detail"]
    generated = api.client.post(EXPERIMENTS, json={"campaign": "demo", "inputs": {"x": 1}}).json()
    assert generated["experiment_id"].startswith("EXP-")
    assert [e["experiment_id"] for e in api.client.get(EXPERIMENTS, params={"campaign": "demo"}).json()] == [
        "EXP-9", generated["experiment_id"]]
    assert api.client.get(f"{EXPERIMENTS}/EXP-404").status_code == 404


@pytest.mark.parametrize(("body", "message"), [
    ({"campaign": "demo", "inputs": {}}, "inputs"),
    ({"campaign": "demo", "inputs": {"x": [1]}}, "inputs.x"),
    ({"campaign": "demo", "inputs": {"x": 1}, "colour": "red"}, "colour"),
    ({"campaign": "de mo", "inputs": {"x": 1}}, "campaign"),
    ({"campaign": "demo", "inputs": {"x": 1}, "file_pattern": "*"}, "would match every file"),
    ({"campaign": "demo", "inputs": {"x": 1}, "file_pattern": "../*.csv"}, "without folders"),
])
def test_bad_experiments_are_422_with_the_reason(api, body, message):
    response = api.client.post(EXPERIMENTS, json=body)
    assert response.status_code == 422 and message in response.json()["detail"]


def test_a_body_that_is_not_json_is_a_clear_4xx_problem(api):
    broken = api.client.post(EXPERIMENTS, content=b"{oops", headers={"content-type": "application/json"})
    assert broken.status_code == 422 and "not valid JSON: Expecting property name" in broken.json()["detail"]
    binary = api.client.post(EXPERIMENTS, content=b"\xff", headers={"content-type": "application/json"})
    assert binary.status_code == 400 and "cannot be read" in binary.json()["detail"]


def test_an_arriving_file_is_linked_by_pattern_and_reaches_the_dataset_with_the_inputs(api):
    api.client.post(EXPERIMENTS, json={"experiment_id": "EXP-9", "campaign": "demo", "inputs": {"x": 0.5},
                                       "file_pattern": "exp9_*.csv"}).raise_for_status()
    drop(api.settings.inbox, "exp9_a.csv", signal_csv(3))
    daemon = InboxDaemon(api.settings, api.instance, api.resources)
    daemon.tick()
    (request,) = daemon.tick()
    daemon.execute(request)
    run = api.catalog.get_run(request.partition_key)
    link = api.app.state.lab.experiments.link_run(run)  # what the pipeline does when a file arrives
    assert (link.experiment_id, link.matched_by) == ("EXP-9", "file_pattern")
    (linked,) = api.client.get(f"{EXPERIMENTS}/EXP-9").json()["runs"]
    assert linked == {"run_key": run.run_key, "status": "processed", "review_status": "new"}
    assert api.client.get("/api/v1/runs", params={"experiment_id": "EXP-9"}).json()["total"] == 1


def test_a_recommendation_batch_and_the_campaign_view_follow_each_point(api):
    batch = api.client.post(RECOMMENDATIONS, json={"campaign": "demo", "points": [
        point(0.1, 1.0, "space_filling"), point(0.5, 2.0), point(0.9, 3.0)]})
    assert batch.status_code == 201 and batch.json()["batch_id"] >= 1 and len(batch.json()["points"]) == 3
    api.client.post(EXPERIMENTS, json={"experiment_id": "EXP-5", "campaign": "demo", "inputs": {"x": 0.5}})
    api.client.post(EXPERIMENTS, json={"experiment_id": "EXP-9", "campaign": "demo", "inputs": {"x": 0.9}})
    drop(api.settings.inbox, "r9.csv", signal_csv(4), sidecar={"experiment_id": "EXP-9"})
    daemon = InboxDaemon(api.settings, api.instance, api.resources)
    daemon.tick()
    (request,) = daemon.tick()
    daemon.execute(request)
    key = request.partition_key
    ReviewStore(api.catalog).confirm(key, "ana", detected_annotation(api, key), base_version=0)
    campaign = api.client.get("/api/v1/campaigns/demo").json()
    assert (campaign["phase"], campaign["model_version"], campaign["experiments"]) == ("model_driven", "gp-3", 2)
    assert [p["state"] for p in campaign["points"]] == ["recommended", "registered", "confirmed"]
    assert campaign["points"][2]["confirmed_run_keys"] == [key] and campaign["points"][1]["mean"] == 2.0
    (summary,) = api.client.get("/api/v1/campaigns").json()
    assert (summary["recommended_points"], summary["confirmed_points"]) == (3, 1)
    listed = api.client.get(RECOMMENDATIONS, params={"campaign": "demo"}).json()
    assert [p["parameters"]["x"] for p in listed[0]["points"]] == [0.1, 0.5, 0.9]
    assert api.client.get("/api/v1/campaigns/nothing").status_code == 404


@pytest.mark.parametrize(("points", "message"), [
    ([], "points"),
    ([{**point(0.1, 1.0), "phase": "random"}], "phase"),
    ([{**point(0.1, 1.0), "uncertainty": -1}], "uncertainty"),
    ([{**point(0.1, 1.0), "mean": True}], "mean"),
    ([{**point(0.1, 1.0), "mean": "1.0"}], "mean"),
    ([{**point(0.1, 1.0), "model_version": ""}], "model_version"),
])
def test_bad_recommendations_are_422(api, points, message):
    response = api.client.post(RECOMMENDATIONS, json={"campaign": "demo", "points": points})
    assert response.status_code == 422 and message in response.json()["detail"]
    assert api.client.get(RECOMMENDATIONS).json() == []


def test_non_finite_numbers_are_refused(api):
    body = b'{"campaign": "demo", "points": [{"parameters": {"x": NaN}, "mean": 1, "uncertainty": 0, ' \
           b'"phase": "model_driven", "model_version": "v"}]}'
    response = api.client.post(RECOMMENDATIONS, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
