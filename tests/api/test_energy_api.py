"""Forecasting over HTTP: training jobs (real Dagster runs), predict, anomalies, versions, activation, rollback,
and the hot swap of the active model under concurrent requests on a real uvicorn server."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from lab_assets.forecasting import FORECASTING_ASSETS
from labflow.apikeys import KeyStore
from labflow.store.catalog import Catalog
from labflow.forecasting.demo import energy_csv, energy_frame
from resources import build_resources
from lab_assets.gateway import DagsterGateway
from tests.api.conftest import make_settings, uvicorn_server
from tests.forecast_fixtures import points

JOBS = "/api/v1/training-jobs"
ASSET = "/api/v1/assets/line-3"


@dataclass
class EnergyLab:
    root: Path
    gateway: DagsterGateway
    client: TestClient
    app: object


def open_energy_lab(root: Path, instance: dg.DagsterInstance, **env: str) -> tuple[EnergyLab, Catalog]:
    settings = make_settings(root / "home", **{"LABFLOW_TRAINING_DATA_DIRS": str(root), **env})
    defs = dg.Definitions(assets=FORECASTING_ASSETS, resources=build_resources(settings),
                          executor=dg.in_process_executor)
    gateway = DagsterGateway(instance, defs=defs)
    app = create_app(settings, gateway=gateway)
    return EnergyLab(root, gateway, TestClient(app), app), Catalog(settings.database_url)


def train(lab: EnergyLab, asset_id: str, data: bytes, name: str, **params) -> dict:
    """Start a training job and wait until it has finished; returns the final job."""
    path = lab.root / name
    path.write_bytes(data)
    started = lab.client.post(JOBS, json={"asset_id": asset_id, "data_url": path.as_uri(), "n_estimators": 10,
                                          **params})
    assert started.status_code == 202, started.text
    job = started.json()
    assert job["state"] in ("queued", "running", "succeeded") and started.headers["location"] == job["status_url"]
    lab.gateway.wait_for_local_runs()
    return lab.client.get(job["status_url"]).json()


@pytest.fixture(scope="module")
def energy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EnergyLab]:
    """``line-3`` trained twice from five weeks of hourly readings (versions 1 and 2)."""
    root = tmp_path_factory.mktemp("energy_lab")
    (root / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(root / "dagster")) as instance:
        lab, catalog = open_energy_lab(root, instance)
        with lab.client:
            for seed in (0, 1):
                assert train(lab, "line-3", energy_csv(5, seed=seed), f"line3-{seed}.csv")["state"] == "succeeded"
            yield lab
        catalog.dispose()


@pytest.fixture
def history() -> list[dict]:
    """The week before the forecast, as request points."""
    return points(energy_frame(6, seed=4)[-168:])


def test_training_job_reports_success_with_a_link_to_the_run(energy: EnergyLab):
    versions = energy.client.get(f"{ASSET}/models").json()
    assert [v["version"] for v in versions] == [2, 1]
    job = energy.client.get(f"{JOBS}/{versions[0]['run_id']}").json()
    assert job["state"] == "succeeded" and job["error"] is None and job["asset_id"] == "line-3"
    assert job["dagster_run_url"] == f"http://127.0.0.1:3000/runs/{versions[0]['run_id']}"
    assert versions[0]["metrics"]["interval_nominal"] == 0.9 and len(versions[0]["data_hash"]) == 64
    listed = energy.client.get("/api/v1/assets").json()
    assert [(a["asset_id"], a["versions"], a["latest"]) for a in listed] == [("line-3", 2, 2)]
    assert listed[0]["active"] == next(v["version"] for v in versions if v["active"])


def test_a_failed_training_job_says_why(energy: EnergyLab):
    job = train(energy, "line-9", b"timestamp,value\n2024-01-01 00:00:00,1\nlater,2\n", "bad.csv")
    assert job["state"] == "failed"
    assert "energy_history" in job["error"] and "row 3 ('later')" in job["error"]
    assert energy.client.get("/api/v1/assets/line-9/models").status_code == 404


def test_predict_returns_the_horizon_with_an_interval(energy: EnergyLab, history: list[dict]):
    response = energy.client.post(f"{ASSET}/predict", json={"historical_data": history, "forecast_horizon": 24})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["asset_id"] == "line-3" and body["interval"] == 0.9 and len(body["forecast_data"]) == 24
    first = body["forecast_data"][0]
    assert first["timestamp"].startswith("2024-02-12T00:00:00")
    assert all(p["lower"] <= p["predicted"] <= p["upper"] for p in body["forecast_data"])


def test_serving_time_and_model_version_per_asset_are_in_metrics(energy: EnergyLab, history: list[dict]):
    def count(text: str) -> float:
        match = re.search(r'^labflow_forecast_request_seconds_count\{asset="line-3",operation="predict"\} (\S+)$',
                          text, re.M)
        return float(match.group(1)) if match else 0.0

    before = energy.client.get("/metrics").text
    body = {"historical_data": history, "forecast_horizon": 24}
    for _ in range(3):
        assert energy.client.post(f"{ASSET}/predict", json=body).status_code == 200
    assert energy.client.post("/api/v1/assets/line-77/predict", json=body).status_code == 404
    text = energy.client.get("/metrics").text
    assert count(text) == count(before) + 3
    assert 'asset="line-77"' not in text  # only assets with a model become label values
    active = next(v["version"] for v in energy.client.get(f"{ASSET}/models").json() if v["active"])
    deadline = time.monotonic() + 30  # the served model follows the registry within the cache's refresh
    while True:
        served = re.search(r'^labflow_forecast_model_version\{asset="line-3",serving="(\w+)"\} (\S+)$',
                           energy.client.get("/metrics").text, re.M)
        assert served is not None
        if float(served.group(2)) == active or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert float(served.group(2)) == active
    assert served.group(1) in ("compiled", "lightgbm")


def test_the_active_model_is_served_on_compiled_trees(energy: EnergyLab, history: list[dict]):
    body = {"historical_data": history, "forecast_horizon": 24}
    deadline = time.monotonic() + 120
    while energy.client.get("/api/v1/assets").json()[0]["serving"] != "compiled":
        assert time.monotonic() < deadline, "the active model was not compiled within 2 minutes"
        time.sleep(0.2)
    response = energy.client.post(f"{ASSET}/predict", json=body)
    assert response.status_code == 200 and len(response.json()["forecast_data"]) == 24
    compiled = Path(energy.app.state.lab.settings.compiled_trees_dir)  # type: ignore[attr-defined]
    assert len(list(compiled.glob("*.o"))) >= 3


def test_future_covariates_are_used_when_given(energy: EnergyLab, history: list[dict]):
    body = {"historical_data": history, "forecast_horizon": 24}

    def at_ten(hours: range | None) -> float:  # Monday 2024-02-12 10:00 with production planned for ``hours``
        plan = [{"timestamp": f"2024-02-12T{h:02d}:00:00", "temp": 5.0, "production": 80.0 if h in hours else 0.0}
                for h in range(24)] if hours is not None else None
        answer = energy.client.post(f"{ASSET}/predict", json={**body, "future_covariates": plan} if plan else body)
        return answer.json()["forecast_data"][10]["predicted"]

    working, holiday, unplanned = at_ten(range(7, 18)), at_ten(range(0)), at_ten(None)
    assert working > holiday + 5  # the sent plan is the plan, either way
    assert abs(unplanned - working) < abs(unplanned - holiday)  # not sent: last Monday's plan, a working day
    wrong = [{"timestamp": "2024-03-01T00:00:00", "temp": 1}]
    response = energy.client.post(f"{ASSET}/predict", json={**body, "future_covariates": wrong})
    assert response.status_code == 422 and "not one of the 24 forecast times" in response.json()["detail"]


@pytest.mark.parametrize(("change", "status", "message"), [
    (lambda b: b["historical_data"][3].pop("timestamp"), 422, "historical_data.3.timestamp: Field required"),
    (lambda b: b.update(forecast_horizon=25), 422, "forecast_horizon must be 1–24 steps"),
    (lambda b: b.update(historical_data=b["historical_data"][:100]), 422, "too little history: 100 reading"),
    (lambda b: b["historical_data"][0].update(temp="warm"), 422, "historical_data.0.temp: Input should be a valid "),
    (lambda b: b["historical_data"][1].update(timestamp=1700000000), 422, "historical_data.1.timestamp: Input should"),
    (lambda b: b["historical_data"][2].update(timestamp="2024-02-30T10:00:00"), 422, "[2].timestamp '2024-02-30T10"),
    (lambda b: [p.pop("production") for p in b["historical_data"]], 422, "has no production"),
])
def test_predict_validation(energy: EnergyLab, history: list[dict], change, status: int, message: str):
    body = {"historical_data": history, "forecast_horizon": 24}
    change(body)
    response = energy.client.post(f"{ASSET}/predict", json=body)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert message in response.json()["detail"]


def test_unknown_asset_is_404(energy: EnergyLab, history: list[dict]):
    response = energy.client.post("/api/v1/assets/line-77/predict",
                                  json={"historical_data": history, "forecast_horizon": 4})
    assert response.status_code == 404 and "has no forecast model" in response.json()["detail"]


def test_training_job_validation(energy: EnergyLab):
    for body, message in (({"asset_id": "line 3!", "data_url": "file:///a.csv"}, "asset_id"),
                          ({"asset_id": "line-3", "data_url": "ftp://host/a.csv"}, "must start with http://"),
                          ({"asset_id": "line-3", "data_url": "file:///a.csv", "horizon": 500}, "horizon")):
        response = energy.client.post(JOBS, json=body)
        assert response.status_code == 422 and message in response.json()["detail"]
    assert energy.client.get(f"{JOBS}/0123456789abcdef").status_code == 404


def test_activation_rollback_and_comparison(energy: EnergyLab, history: list[dict]):
    client = energy.client
    assert client.post(f"{ASSET}/models/1/activate").json()["active"] is True
    assert client.post(f"{ASSET}/models/2/activate").json()["version"] == 2
    body = {"historical_data": history, "forecast_horizon": 6}
    assert client.post(f"{ASSET}/predict", json=body).json()["model_version"] == 2
    rolled = client.post(f"{ASSET}/models/rollback")
    assert rolled.status_code == 200 and rolled.json()["version"] == 1
    assert client.post(f"{ASSET}/predict", json=body).json()["model_version"] == 1
    compared = client.get(f"{ASSET}/models/compare", params={"versions": [1, 2]}).json()
    assert [row["version"] for row in compared["rows"]] == [1, 2]
    assert [row["active"] for row in compared["rows"]] == [True, False]
    assert all(row["mae_ratio_vs_naive"] > 0 for row in compared["rows"])
    assert client.post(f"{ASSET}/models/9/activate").status_code == 404
    while client.post(f"{ASSET}/models/rollback").status_code == 200:
        pass
    last = client.post(f"{ASSET}/models/rollback")
    assert last.status_code == 409 and "no earlier active version" in last.json()["detail"]


def test_detect_anomalies_explains_each_one(energy: EnergyLab):
    frame = energy_frame(6, seed=4)[-240:]
    stream = points(frame)
    stream[225]["value"] = float(frame["value"][225]) * 2.5
    response = energy.client.post(f"{ASSET}/detect_anomalies", json={"data_stream": stream})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["checked"] == 240 - 168 - 23
    spike = next(a for a in body["anomalies"] if a["timestamp"].startswith(stream[225]["timestamp"]))
    assert spike["direction"] == "above" and spike["reason"].startswith("exceeds the predicted upper bound by ")
    assert spike["reason"].endswith(f"expected {spike['predicted']:.4g})")
    short = energy.client.post(f"{ASSET}/detect_anomalies", json={"data_stream": stream[:150]})
    assert short.status_code == 422 and "too little history" in short.json()["detail"]


def test_hot_swap_under_concurrent_requests_on_a_real_server(energy: EnergyLab, history: list[dict]):
    body = {"historical_data": history, "forecast_horizon": 24}
    results: list[tuple[int, int | None]] = []
    stop = threading.Event()

    def client(url: str) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            while not stop.is_set():
                response = http.post(f"{ASSET}/predict", json=body)
                results.append((response.status_code, response.json().get("model_version")))

    with uvicorn_server(energy.app) as url:  # type: ignore[arg-type]
        threads = [threading.Thread(target=client, args=(url,)) for _ in range(6)]
        for thread in threads:
            thread.start()
        with httpx.Client(base_url=url, timeout=30) as admin:
            for version in (1, 2, 1, 2):
                time.sleep(0.3)
                assert admin.post(f"{ASSET}/models/{version}/activate").status_code == 200
                assert admin.post(f"{ASSET}/predict", json=body).json()["model_version"] == version
        time.sleep(0.3)
        stop.set()
        for thread in threads:
            thread.join(30)
    assert len(results) > 20
    assert {status for status, _ in results} == {200}
    assert {version for _, version in results} == {1, 2}


def test_keys_are_required_with_the_right_scope(tmp_path: Path, instance: dg.DagsterInstance, history: list[dict]):
    lab, catalog = open_energy_lab(tmp_path, instance, LABFLOW_AUTH="on")
    keys = KeyStore(catalog)
    _, reader = keys.create("dashboard", "read")
    with lab.client:
        body = {"historical_data": history, "forecast_horizon": 4}
        assert lab.client.post(f"{ASSET}/predict", json=body).status_code == 401
        headers = {"Authorization": f"Bearer {reader}"}
        assert lab.client.post(f"{ASSET}/predict", json=body, headers=headers).status_code == 404  # allowed, no model
        job = {"asset_id": "line-3", "data_url": "file:///a.csv"}
        assert lab.client.post(JOBS, json=job, headers=headers).status_code == 403
        assert lab.client.post(f"{ASSET}/models/rollback", headers=headers).status_code == 403
    catalog.dispose()


def test_a_second_job_for_a_busy_asset_is_refused(tmp_path: Path, instance: dg.DagsterInstance):
    lab, catalog = open_energy_lab(tmp_path, instance)
    path = tmp_path / "line.csv"
    path.write_bytes(energy_csv(5))
    instance.add_dynamic_partitions("energy_assets", ["line-3"])
    run = instance.create_run_for_job(lab.gateway._asset_job(), asset_selection={dg.AssetKey("energy_history")},
                                      tags={"dagster/partition": "line-3"})
    assert run.status == dg.DagsterRunStatus.NOT_STARTED  # created, not started yet: it counts as queued
    with lab.client:
        response = lab.client.post(JOBS, json={"asset_id": "line-3", "data_url": path.as_uri()})
    assert response.status_code == 409 and run.run_id in response.json()["detail"]
    catalog.dispose()
