"""Reading materializations and requesting runs from outside a run, on a real instance."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import dagster as dg

from lab_assets.etl import run_etl
from lab_assets.review import annotations, confirmed_dataset
from lab_assets.gateway import DagsterGateway
from sensors.batching import batch_run_requests
from tests.lab_fixtures import register_run, signal_csv


def gateway_for(instance, lab_resources) -> DagsterGateway:
    defs = dg.Definitions(assets=[run_etl, annotations, confirmed_dataset], resources=lab_resources)
    return DagsterGateway(instance, webserver_url=None, defs=defs)


def test_lazy_request_runs_the_missing_steps_and_reports_state(lab_settings, lab_resources, catalog, instance):
    key = register_run(lab_settings, catalog, instance, "a.csv", signal_csv(1))
    (request,) = batch_run_requests([key], batch_size=10, etl_mode="lazy", source="inbox")
    dg.materialize([run_etl], selection=request.asset_selection, instance=instance, resources=lab_resources,
                   partition_key=key, tags=request.tags)
    gateway = gateway_for(instance, lab_resources)
    assert gateway.latest("raw_series", key) is not None and gateway.latest("peaks", key) is None
    run_id = gateway.request(["clean_series", "peaks", "quality_report"], key)
    gateway.wait_for_local_runs()
    assert gateway.run_state(run_id).state == "succeeded"
    peaks = gateway.latest("peaks", key)
    assert peaks.run_id == run_id and peaks.partition == key and peaks.metadata["count"] == 2
    assert gateway.materialized_partitions("quality_report") == {key}
    assert gateway.run_state("no-such-run") is None


def test_operations_facts_come_from_the_instance(lab_settings, lab_resources, catalog, instance):
    key = register_run(lab_settings, catalog, instance, "b.csv", signal_csv(2))
    since = datetime.now(timezone.utc) - timedelta(minutes=1)
    dg.materialize([run_etl], instance=instance, resources=lab_resources, partition_key=key,
                   tags={"labflow/source": "inbox", "labflow/files": "1"})
    gateway = gateway_for(instance, lab_resources)
    runs = gateway.etl_runs(since)
    assert runs.height == 1 and runs["status"][0] == "SUCCESS" and runs["files"][0] == 1
    assert (runs["end"][0] - runs["start"][0]).total_seconds() > 0
    checks = gateway.check_evaluations(since)
    assert sorted(checks["check"].to_list()) == ["no_clipping", "no_sampling_gaps", "peaks_found",
                                                  "score_above_minimum"]
    assert checks["run_key"].unique().to_list() == [key] and checks["passed"].all()
