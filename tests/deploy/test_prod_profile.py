"""The production profile on the real PostgreSQL: deploy/dagster.prod.yaml as the Dagster instance,
the catalog in a second database on the same server, the whole pipeline (sensors → peaks), twice.

S3 objects come from a real S3-compatible HTTP endpoint (moto server; boto3 is not patched).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from lab_assets.etl import run_etl
from labflow.store.catalog import Catalog
from labflow.settings import PROJECT_ROOT, Settings
from resources import build_resources
from resources.s3 import S3InboxResource
from tests.conftest import fresh_database
from tests.lab_fixtures import drop, signal_csv
from tests.sensors.test_inbox_sensor import Daemon
from tests.sensors.test_s3_sensor import S3Daemon

DEPLOY = PROJECT_ROOT / "deploy"


@pytest.fixture
def catalog_url(postgres_admin_url: str) -> Iterator[str]:
    """A second new database on the same server, for the labflow catalog."""
    with fresh_database(postgres_admin_url, "labflow_catalog") as url:
        yield url


@pytest.fixture
def dagster_home(tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """DAGSTER_HOME holding deploy/dagster.prod.yaml, its DAGSTER_PG_* variables pointing at a fresh database."""
    url = make_url(postgres_url)
    for name, value in {"DAGSTER_PG_USER": url.username, "DAGSTER_PG_PASSWORD": url.password or "",
                        "DAGSTER_PG_HOST": url.host, "DAGSTER_PG_PORT": str(url.port or 5432),
                        "DAGSTER_PG_DB": url.database}.items():
        monkeypatch.setenv(name, value)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(DEPLOY / "dagster.prod.yaml", home / "dagster.yaml")
    return home


def process_requests(instance: dg.DagsterInstance, resources: dict, requests: list[dg.RunRequest]) -> None:
    """Execute what the sensor asked for, as the run launcher would (one file per request here)."""
    for request in requests:
        assert dg.materialize([run_etl], instance=instance, resources=resources, partition_key=request.partition_key,
                              selection=request.asset_selection, tags=request.tags).success


@pytest.mark.postgres
def test_the_pipeline_runs_on_postgres_from_a_fresh_database_and_again(dagster_home, postgres_url, catalog_url,
                                                                        tmp_path, s3, bucket):
    settings = Settings.from_env({"LABFLOW_HOME": str(tmp_path / "labflow"), "LABFLOW_DATABASE_URL": catalog_url})
    settings.ensure_dirs()
    resources = {**build_resources(settings),
                 "s3": S3InboxResource(sources=[f"s3://{bucket}/incoming"], endpoint_url=s3.url, max_attempts=1)}
    client = s3.client()

    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        folder, from_s3 = Daemon(settings, instance, resources), S3Daemon(settings, instance, resources)
        drop(settings.inbox, "hplc-01/first.csv", signal_csv(1), sidecar={"operator": "alice"})
        folder.tick()
        process_requests(instance, resources, folder.tick().run_requests)
        client.put_object(Bucket=bucket, Key="incoming/gc-02/second.csv.meta.json",
                          Body=json.dumps({"operator": "bob"}).encode())
        client.put_object(Bucket=bucket, Key="incoming/gc-02/second.csv", Body=signal_csv(2))
        process_requests(instance, resources, from_s3.tick().run_requests)
        first_keys = instance.get_dynamic_partitions("runs")
        assert len(first_keys) == 2
        assert instance.get_materialized_partitions(dg.AssetKey("peaks")) == set(first_keys)
        cursors = folder.cursor, from_s3.cursor

    dagster_tables = set(inspect(create_engine(postgres_url, poolclass=NullPool)).get_table_names())
    assert {"runs", "event_logs", "asset_keys", "dynamic_partitions", "alembic_version"} <= dagster_tables
    catalog_tables = set(inspect(create_engine(catalog_url, poolclass=NullPool)).get_table_names())
    assert {"runs", "ingest_events", "run_reviews"} <= catalog_tables

    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:  # a restart: same database
        assert len(instance.get_runs()) == 2 and instance.get_dynamic_partitions("runs") == first_keys
        folder, from_s3 = Daemon(settings, instance, resources), S3Daemon(settings, instance, resources)
        folder.cursor, from_s3.cursor = cursors
        client.put_object(Bucket=bucket, Key="incoming/third.csv", Body=signal_csv(3))
        client.put_object(Bucket=bucket, Key="incoming/copy-of-first.csv", Body=signal_csv(1))
        process_requests(instance, resources, from_s3.tick().run_requests)
        assert folder.tick().run_requests == []
        assert len(instance.get_materialized_partitions(dg.AssetKey("peaks"))) == 3

    catalog = Catalog(catalog_url)
    try:
        runs = {run.original_name: run for run in catalog.find_runs()}
        assert sorted(runs) == ["first.csv", "second.csv", "third.csv"]
        assert {run.status for run in runs.values()} == {"processed"}
        assert (runs["first.csv"].operator, runs["second.csv"].operator) == ("alice", "bob")
        assert [e.kind for e in catalog.ingest_events(runs["first.csv"].run_key)] == ["new", "duplicate"]
    finally:
        catalog.dispose()


def test_the_docker_profile_and_compose_file_agree_with_the_prod_profile():
    """The environment variables the instance files read are set for every Dagster service in compose."""
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    wanted = set()
    for name in ("dagster.prod.yaml", "dagster.docker.yaml"):
        storage = yaml.safe_load((DEPLOY / name).read_text())["storage"]["postgres"]["postgres_db"]
        assert storage["scheme"] == "postgresql+psycopg2"
        wanted |= {value["env"] for value in storage.values() if isinstance(value, dict)}
    for service in ("codeserver", "webserver", "daemon", "api", "app"):
        environment = compose["services"][service]["environment"]
        assert wanted <= set(environment), service
        assert environment["LABFLOW_DATABASE_URL"].endswith("@postgres:5432/labflow")
        assert environment["DAGSTER_PG_DB"] == "dagster"  # the catalog and Dagster never share a database
    workspace = yaml.safe_load((DEPLOY / "workspace.docker.yaml").read_text())["load_from"][0]["grpc_server"]
    command = compose["services"]["codeserver"]["command"]
    assert workspace["location_name"] == "labflow" == command[command.index("--location-name") + 1]
    assert str(workspace["port"]) == command[command.index("-p") + 1] and workspace["host"] == "codeserver"
    docker_env = yaml.safe_load((DEPLOY / "dagster.docker.yaml").read_text())["run_launcher"]["config"]["env_vars"]
    assert set(docker_env) <= set(compose["services"]["codeserver"]["environment"]) | {"LABFLOW_RECIPES_DIR"}


def test_the_helm_values_name_our_code_location_and_external_postgres():
    values = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert deployment["dagsterApiGrpcArgs"] == ["--module-name", "lab_assets.definitions", "--location-name",
                                                "labflow"]
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["postgresql"]["enabled"] is False
    assert values["postgresql"]["postgresqlScheme"] == "postgresql+psycopg2"
