"""Every ``LABFLOW_*`` variable reaches a run, the API and the app with the same value.

Before one settings object, runs rebuilt the settings from seven resource fields, so e.g.
``LABFLOW_UPLOAD_MAX_MB`` or ``LABFLOW_SOURCES_DIR`` silently fell back to their defaults inside runs.
"""

from __future__ import annotations

import shutil

import dagster as dg

from api.app import create_app
from fastapi.testclient import TestClient
from labflow.apikeys import KeyStore
from labflow.runtime_config import effective_settings
from labflow.settings import PROJECT_ROOT, Settings
from labflow.store.catalog import Catalog
from lab_assets.gateway import DagsterGateway
from resources import LabStorageResource, build_resources
from ui.context import AppContext
from ui.settings_tab import settings_frame


def every_variable(tmp_path) -> dict[str, str]:
    """A value other than the default for every setting."""
    return {
        "LABFLOW_HOME": str(tmp_path / "home"), "LABFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'elsewhere.db'}",
        "LABFLOW_ETL_MODE": "lazy", "LABFLOW_SENSOR_INTERVAL": "7", "LABFLOW_BATCH_SIZE": "13",
        "LABFLOW_RECIPES_DIR": str(tmp_path / "recipes"),
        "LABFLOW_DAGSTER_URL": "http://127.0.0.1:3999/", "LABFLOW_API_PORT": "8123", "LABFLOW_UI_PORT": "7123",
        "LABFLOW_AUTH": "on", "LABFLOW_KEY_RECHECK_S": "2.5", "LABFLOW_UPLOAD_MAX_MB": "1",
        "LABFLOW_S3_SOURCES": "s3://lab/incoming,s3://archive", "LABFLOW_S3_ENDPOINT_URL": "http://127.0.0.1:9",
        "LABFLOW_FORWARD_DIRS": f"{tmp_path / 'staging'}", "LABFLOW_OBJECT_STORE": "s3://lab-data/site-a",
        "LABFLOW_SOURCES_DIR": str(tmp_path / "sources"), "LABFLOW_STREAM_RAW_DAYS": "3",
        "LABFLOW_STREAM_PATTERN_DAYS": "9", "LABFLOW_FORECAST_TOLERANCE": "0.2", "LABFLOW_FORECAST_COMPILED_TREES": "off",
        "LABFLOW_METRICS_REFRESH_S": "3", "LABFLOW_TRAINING_DATA_DIRS": str(tmp_path / "training-data"),
        "LABFLOW_TRAINING_DATA_HOSTS": "data.lab.example,lab-bucket",
    }


def test_a_run_the_api_and_the_app_see_every_variable(tmp_path, monkeypatch):
    env = every_variable(tmp_path)
    shutil.copytree(PROJECT_ROOT / "recipes", tmp_path / "recipes")
    assert set(env) == set(Settings.variables().values())  # every setting is set here
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env()  # what every labflow process reads at start
    defaults = Settings.from_env({"LABFLOW_HOME": env["LABFLOW_HOME"]})
    assert [name for name in Settings.model_fields if name != "home" and getattr(settings, name) == getattr(
        defaults, name)] == []
    settings.ensure_dirs()

    seen = []

    @dg.asset
    def what_a_run_sees(lab: LabStorageResource) -> None:
        seen.append(lab.settings())

    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        assert dg.materialize([what_a_run_sees], resources=build_resources(settings), instance=instance).success
        in_run = seen[0]
        assert in_run == settings
        assert in_run.upload_max_bytes == 1024 * 1024 and in_run.sources_dir == tmp_path / "sources"

        gateway = DagsterGateway(instance, webserver_url=settings.dagster_url)
        api = create_app(Settings.from_env(), gateway=gateway)
        catalog = Catalog(settings.database_url)
        token = KeyStore(catalog).create("reader", "read")[1]
        with TestClient(api) as client:
            response = client.get("/api/v1/settings", headers={"Authorization": f"Bearer {token}"})
            assert client.get("/api/v1/settings").status_code == 401  # LABFLOW_AUTH=on holds
        assert response.status_code == 200
        by_api = {row["name"]: row["value"] for row in response.json() if not row["editable"]}

        ctx = AppContext.create(Settings.from_env(), gateway)
        by_app = {row["name"]: row["value"] for row in settings_frame(ctx).to_dict("records") if not row["editable"]}
        ctx.catalog.dispose()
        catalog.dispose()

    in_the_run = {row["name"]: row["value"] for row in effective_settings(in_run) if not row["editable"]}
    assert by_api == by_app == in_the_run
    assert by_api["upload_max_mb"] == "1.0" and by_api["etl_mode"] == "lazy" and by_api["auth"] == "True"
