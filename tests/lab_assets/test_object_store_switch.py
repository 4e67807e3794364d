"""LABFLOW_OBJECT_STORE=s3://…: raw copies and every asset output live in the bucket, end to end.

The bucket is served by moto over real HTTP; the pipeline, the review assets, the API's reader and the
app's readers run unchanged on top of it.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from api.materialized import MaterializedReader
from labflow.review.annotations import Annotation, PeakMark
from labflow.store.catalog import Catalog
from labflow.review.store import ReviewStore
from labflow.settings import PROJECT_ROOT, Settings
from labflow.store.outputs import open_output_store
from resources import build_resources
from lab_assets.gateway import DagsterGateway
from tests.lab_fixtures import ReviewDaemon, process_run, signal_csv
from tests.s3_fixtures import S3Endpoint
from ui.dataset import latest_dataset
from ui.run_data import SeriesCache


@pytest.fixture
def s3_settings(tmp_path: Path, s3: S3Endpoint) -> Settings:
    bucket = s3.new_bucket()
    settings = Settings.from_env({"LABFLOW_HOME": str(tmp_path / "home"), "LABFLOW_S3_ENDPOINT_URL": s3.url,
                                  "LABFLOW_RECIPES_DIR": str(PROJECT_ROOT / "recipes"),
                                  "LABFLOW_OBJECT_STORE": f"s3://{bucket}/plant-1"})
    settings.ensure_dirs()
    return settings


def bucket_keys(s3: S3Endpoint, settings: Settings) -> list[str]:
    bucket, _, prefix = settings.object_store.removeprefix("s3://").partition("/")
    pages = s3.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/")
    return sorted(item["Key"].removeprefix(prefix + "/") for page in pages for item in page.get("Contents", []))


def test_a_run_and_its_confirmation_live_in_the_bucket(s3: S3Endpoint, s3_settings: Settings,
                                                       instance: dg.DagsterInstance) -> None:
    resources = build_resources(s3_settings)
    catalog = Catalog(s3_settings.database_url)
    try:
        key = process_run(s3_settings, catalog, instance, resources, "uv/run.csv", signal_csv(3))
        run = catalog.get_run(key)
        assert run.status == "processed"
        assert run.object_path == f"{s3_settings.object_store}/objects/{run.sha256[:2]}/{run.sha256}.csv"

        outputs = open_output_store(s3_settings)
        peaks = outputs.read_frame("peaks", key)
        ReviewStore(catalog).confirm(key, "ana", Annotation(channel=peaks["channel"][0], peaks=tuple(
            PeakMark(time_s=t) for t in peaks["time_s"])), base_version=0)
        ReviewDaemon(s3_settings, instance, resources).tick()
    finally:
        catalog.dispose()

    keys = bucket_keys(s3, s3_settings)
    for asset, ext in [("raw_series", "parquet"), ("clean_series", "parquet"), ("peaks", "parquet"),
                       ("quality_report", "json"), ("peaks_plot", "png"), ("annotations", "json")]:
        assert f"storage/{asset}/{key}.{ext}" in keys
    assert "storage/confirmed_dataset/latest.parquet" in keys
    assert any(k.startswith("objects/") for k in keys)
    assert not any((s3_settings.home / "storage").rglob("*.*")), "outputs were written to local disk"
    assert not any((s3_settings.home / "objects").rglob("*.*")), "raw copies were written to local disk"

    gateway = DagsterGateway(instance)
    dataset = latest_dataset(gateway, outputs)
    assert dataset is not None and dataset.frame["run_key"].to_list() == [key]
    materialization = gateway.latest("confirmed_dataset")
    assert str(materialization.metadata["path"]).startswith("s3://")

    reader = MaterializedReader(s3_settings, gateway)
    clean = reader.frame(reader.path_of(gateway.latest("clean_series", key), "clean_series"))
    assert clean.equals(outputs.read_frame("clean_series", key))
    series = SeriesCache(outputs).frame("clean_series", key, ["signal_mV"])
    assert series.columns == ["time_s", "signal_mV"] and series.height == 400


def test_a_tampered_raw_copy_in_the_bucket_fails_the_run_with_the_reason(
        s3: S3Endpoint, s3_settings: Settings, instance: dg.DagsterInstance) -> None:
    resources = build_resources(s3_settings)
    catalog = Catalog(s3_settings.database_url)
    try:
        key = process_run(s3_settings, catalog, instance, resources, "a.csv", signal_csv(5))
        run = catalog.get_run(key)
        bucket, _, object_key = run.object_path.removeprefix("s3://").partition("/")
        s3.client().put_object(Bucket=bucket, Key=object_key, Body=b"time_s,y\n0,1\n")
        from lab_assets.etl import run_etl

        result = dg.materialize([run_etl], instance=instance, resources=resources, partition_key=key,
                                raise_on_error=False)
        assert not result.success
        failed = catalog.get_run(key)
        assert failed.status == "failed" and "does not match its hash" in failed.error
    finally:
        catalog.dispose()
    assert pl.read_parquet(open_output_store(s3_settings).local_path("peaks", key)).height > 0
