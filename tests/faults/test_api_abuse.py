"""The API under abuse, over real HTTP (uvicorn): training data from anywhere, secrets in logs, oversize bodies."""

from __future__ import annotations

import dagster as dg
import httpx
import pytest

from tests.api.conftest import make_settings, open_lab, uvicorn_server

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
