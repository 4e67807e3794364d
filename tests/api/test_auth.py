"""The auth matrix: off; on with no key, a wrong key, a too-low scope, the right scope."""

from __future__ import annotations


import pytest
from starlette.websockets import WebSocketDisconnect

from labflow.apikeys import KeyStore
from tests.api.conftest import open_lab
from tests.lab_fixtures import signal_csv

READS = ["/api/v1/runs", "/api/v1/datasets/confirmed", "/api/v1/experiments", "/api/v1/recommendations",
         "/api/v1/campaigns"]
EXPERIMENT = {"campaign": "demo", "inputs": {"x": 1.0}}


@pytest.fixture
def secured(lab_settings, instance):
    lab = open_lab(lab_settings.model_copy(update={"auth": True}), instance)
    keys = KeyStore(lab.catalog)
    tokens = {scope: keys.create(f"{scope}-key", scope)[1] for scope in ("read", "write", "admin")}
    with lab.client:
        yield lab, tokens
    lab.catalog.dispose()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_with_auth_off_no_key_is_needed(api):
    assert all(api.client.get(path).status_code == 200 for path in READS)
    assert api.client.post("/api/v1/experiments", json=EXPERIMENT).status_code == 201
    assert "securitySchemes" not in api.client.get("/openapi.json").json().get("components", {})


@pytest.mark.parametrize("path", READS)
def test_with_auth_on_a_missing_or_wrong_key_is_401(secured, path):
    lab, tokens = secured
    missing = lab.client.get(path)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert missing.headers["content-type"] == "application/problem+json" and "needs an API key" in missing.text
    wrong = lab.client.get(path, headers=bearer(tokens["read"][:-2] + "xx"))
    assert wrong.status_code == 401 and "not valid" in wrong.json()["detail"]
    assert lab.client.get(path, headers={"Authorization": "Basic dXNlcjpwdw=="}).status_code == 401


@pytest.mark.parametrize("path", READS)
def test_any_valid_key_reads(secured, path):
    lab, tokens = secured
    assert all(lab.client.get(path, headers=bearer(tokens[s])).status_code == 200 for s in tokens)


def test_writing_needs_the_write_scope(secured):
    lab, tokens = secured
    refused = lab.client.post("/api/v1/experiments", json=EXPERIMENT, headers=bearer(tokens["read"]))
    assert refused.status_code == 403 and "scope 'read'" in refused.json()["detail"]
    upload = lab.client.post("/api/v1/uploads", files={"file": ("a.csv", signal_csv(1))},
                             headers=bearer(tokens["read"]))
    assert upload.status_code == 403 and not any(lab.settings.inbox.iterdir())
    for scope in ("write", "admin"):
        assert lab.client.post("/api/v1/experiments", json={**EXPERIMENT, "experiment_id": f"E-{scope}"},
                               headers=bearer(tokens[scope])).status_code == 201
    assert lab.client.post("/api/v1/experiments", json=EXPERIMENT).status_code == 401


def test_a_revoked_key_stops_working(secured):
    lab, tokens = secured
    assert lab.client.get(READS[0], headers=bearer(tokens["read"])).status_code == 200
    KeyStore(lab.catalog).revoke("read-key")
    assert lab.client.get(READS[0], headers=bearer(tokens["read"])).status_code == 401


def test_health_and_metrics_stay_open_and_the_schema_declares_the_key(secured):
    lab, _ = secured
    assert lab.client.get("/healthz").json()["auth_required"] is True
    assert lab.client.get("/metrics").status_code == 200
    schema = lab.client.get("/openapi.json").json()
    assert "ApiKey" in schema["components"]["securitySchemes"]
    assert schema["paths"]["/api/v1/runs"]["get"]["security"] == [{"ApiKey": []}]


def test_the_status_stream_needs_a_key_too(secured):
    lab, tokens = secured
    with pytest.raises(WebSocketDisconnect) as refused:
        with lab.client.websocket_connect("/api/v1/ws/runs") as socket:
            socket.receive_json()
    assert refused.value.code == 4401 and "needs an API key" in refused.value.reason
    with lab.client.websocket_connect(f"/api/v1/ws/runs?token={tokens['read']}") as socket:
        socket.close()
