"""The API under abuse, over real HTTP (uvicorn): training data from anywhere, secrets in logs, oversize bodies."""

from __future__ import annotations

import os
import subprocess
import sys

import dagster as dg
import httpx
import pytest
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from labflow.apikeys import KeyStore
from labflow.store.catalog import Catalog
from labflow.devserver import stop_group
from labflow.settings import PROJECT_ROOT
from tests.api.conftest import make_settings, open_lab, uvicorn_server
from tests.lab_fixtures import free_port, responds, wait_for

JOBS = "/api/v1/training-jobs"


@pytest.fixture
def served(tmp_path, instance):
    """The API on a fresh data directory, served by uvicorn; yields ``(base URL, lab)``."""
    lab = open_lab(make_settings(tmp_path / "home"), instance)
    with uvicorn_server(lab.app) as url:
        yield url, lab
    lab.catalog.dispose()


def test_training_data_only_from_allowed_folders_and_hosts_and_no_content_echoed(served, tmp_path):
    url, lab = served
    allowed = lab.settings.home / "training"
    allowed.mkdir(parents=True, exist_ok=True)
    (allowed / "link.csv").symlink_to("/etc/passwd")
    attempts = ["file:///etc/passwd", "file:///etc/shadow", (allowed / "link.csv").as_uri(),
                f"file://{allowed}/../../../../etc/passwd", "http://169.254.169.254/latest/meta-data/",
                f"{url}/api/v1/health", "https://example.com/a.csv", "s3://someone-elses-bucket/a.csv"]
    for data_url in attempts:
        response = httpx.post(url + JOBS, json={"asset_id": "line-3", "data_url": data_url}, timeout=30)
        assert response.status_code == 422, (data_url, response.text)
        assert "LABFLOW_TRAINING_DATA_" in response.text and "root:" not in response.text
    assert lab.instance.get_runs_count(dg.RunsFilter()) == 0  # nothing was launched


@pytest.fixture
def api_process(tmp_path):
    """``labflow api`` as a real process with auth on; yields ``(base URL, settings, log file)``."""
    settings = make_settings(tmp_path / "home", LABFLOW_AUTH="on")
    port = free_port()
    log = tmp_path / "api.log"
    env = {**os.environ, "LABFLOW_HOME": str(settings.home), "LABFLOW_AUTH": "on"}
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "cli.main", "api", "--port", str(port)], env=env,
                                   stdout=out, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT, start_new_session=True)
    try:
        wait_for(lambda: responds(f"http://127.0.0.1:{port}/healthz"), 90, "the API", poll=0.5)
        yield f"http://127.0.0.1:{port}", settings, log
    finally:
        stop_group(process)
        print(log.read_text(errors="replace")[-3000:])


def test_api_keys_never_reach_the_server_log(api_process):
    url, settings, log = api_process
    catalog = Catalog(settings.database_url)
    _, token = KeyStore(catalog).create("reader", "read")
    catalog.dispose()
    ws = url.replace("http://", "ws://") + "/api/v1/ws/runs"
    assert httpx.get(f"{url}/api/v1/runs?token={token}", timeout=30).status_code == 401  # HTTP wants the header
    with connect(f"{ws}?token={token}", open_timeout=30) as socket:  # accepted: it stays open
        socket.ping().wait(10)
    with connect(ws, subprotocols=[Subprotocol("bearer"), Subprotocol(token)], open_timeout=30) as socket:
        assert socket.subprotocol == "bearer"
        socket.ping().wait(10)
    with connect(ws, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=30) as socket:
        socket.ping().wait(10)
    text = wait_for(lambda: (t := log.read_text()).count("WebSocket") >= 3 and t, 10, "the WebSocket log lines")
    secret = token.split("_", 2)[2]
    assert secret not in text and token not in text
    assert "token=[redacted]" in text and "/api/v1/runs?token=[redacted]" in text


def test_bodies_without_a_key_and_oversize_bodies_are_refused_before_they_are_read(api_process):
    url, settings, _ = api_process
    big = b'{"asset_id": "line-3", "data_url": "' + b"x" * (20 * 1024 * 1024) + b'"}'
    response = httpx.post(url + JOBS, content=big, headers={"Content-Type": "application/json"}, timeout=60)
    assert response.status_code == 401 and "needs an API key" in response.json()["detail"]
    catalog = Catalog(settings.database_url)
    _, token = KeyStore(catalog).create("writer", "write")
    catalog.dispose()
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    response = httpx.post(url + JOBS, content=big, headers=auth, timeout=60)
    assert response.status_code == 413 and "limited to 16,777,216 bytes" in response.json()["detail"]

    def chunks():
        for _ in range(20):
            yield b"x" * (1024 * 1024)

    response = httpx.post(url + JOBS, content=chunks(), headers=auth, timeout=60)  # no length: counted
    assert response.status_code == 413 and "more than" in response.json()["detail"]


def test_wrong_secrets_are_rate_limited_per_key_prefix(api_process):
    url, settings, _ = api_process
    catalog = Catalog(settings.database_url)
    _, token = KeyStore(catalog).create("reader", "read")
    catalog.dispose()
    wrong = {"Authorization": f"Bearer {token[:16]}{'A' * 43}"}  # the real prefix, a guessed secret
    statuses = [httpx.get(f"{url}/api/v1/runs", headers=wrong, timeout=30).status_code for _ in range(22)]
    assert statuses[:20] == [401] * 20 and statuses[20:] == [429, 429], statuses
    limited = httpx.get(f"{url}/api/v1/runs", headers=wrong, timeout=30)
    assert limited.status_code == 429 and 0 < int(limited.headers["Retry-After"]) <= 60
