"""annotations[run] and confirmed_dataset on a real instance: confirm in the store → dataset version."""

from __future__ import annotations

import json

import dagster as dg
import numpy as np
import pytest

from labflow.review.annotations import Annotation, PeakMark, move_peak
from labflow.experiments import ExperimentStore
from labflow.processing.peaks import measure_peaks
from labflow.review.store import ReviewStore
from labflow.store.outputs import OutputStore
from tests.lab_fixtures import ReviewDaemon, latest_dataset, process_run, signal_csv


@pytest.fixture
def review(catalog) -> ReviewStore:
    return ReviewStore(catalog)


@pytest.fixture
def daemon(lab_settings, instance, lab_resources) -> ReviewDaemon:
    return ReviewDaemon(lab_settings, instance, lab_resources)


def detected(settings, key: str) -> Annotation:
    peaks = OutputStore(settings.storage).read_frame("peaks", key)
    return Annotation(channel=peaks["channel"][0], peaks=tuple(PeakMark(time_s=t) for t in peaks["time_s"]))


def test_a_corrected_confirmation_reaches_the_dataset_with_its_objective(
        lab_settings, lab_resources, catalog, instance, review, daemon):
    key = process_run(lab_settings, catalog, instance, lab_resources, "uv/run.csv", signal_csv(1, peaks=(10.0, 25.0)),
                      sidecar={"experiment_id": "E1", "params": {"temperature": 80, "campaign": "C1"}})
    base = detected(lab_settings, key)
    corrected = move_peak(base, 25.0, 27.0, tolerance_s=1.0).model_copy(update={"verdict": "peaks_wrong"})
    review.confirm(key, "ana", corrected, base_version=0)
    requests = daemon.tick()
    assert [r.partition_key for r in requests] == [key]
    metadata, rows = latest_dataset(instance)
    assert metadata["rows"].value == 1 and metadata["runs_added"].text == key
    row = rows.row(0, named=True)
    clean = OutputStore(lab_settings.storage).read_frame("clean_series", key)
    expected = measure_peaks(clean["time_s"].to_numpy(), clean["signal_mV_clean"].to_numpy(), np.array([10.0, 27.0]))
    assert row["objective"] == pytest.approx(expected["height"].max())
    assert (row["experiment_id"], row["campaign"], row["annotation_version"], row["verdict"]) == \
        ("E1", "C1", 1, "peaks_wrong")
    assert row["file_sha256"] == catalog.get_run(key).sha256
    stored = OutputStore(lab_settings.storage).read_json("annotations", key)
    assert [p["origin"] for p in stored["peaks"]] == ["detected", "moved"]
    assert stored["peaks"][1]["time_s"] == pytest.approx(27.0, abs=0.3)


def test_drafts_and_rejected_runs_never_enter_and_a_later_rejection_leaves(
        lab_settings, lab_resources, catalog, instance, review, daemon):
    keys = [process_run(lab_settings, catalog, instance, lab_resources, f"r{i}.csv", signal_csv(i)) for i in range(3)]
    review.save_draft(keys[0], "ana", detected(lab_settings, keys[0]), base_version=0)  # a draft only
    review.confirm(keys[1], "ana", Annotation(verdict="invalid", reasons=("noise",)), base_version=0)
    review.confirm(keys[2], "ana", detected(lab_settings, keys[2]), base_version=0)
    daemon.tick()
    metadata, rows = latest_dataset(instance)
    assert rows["run_key"].to_list() == [keys[2]]
    first_digest = metadata["digest"].text
    review.confirm(keys[2], "ben", Annotation(verdict="failed_experiment", reasons=("sample_problem",)),
                   base_version=1)
    daemon.tick()
    metadata, rows = latest_dataset(instance)
    assert rows.height == 0 and metadata["runs_removed"].text == keys[2]
    assert metadata["digest"].text != first_digest


def test_nothing_new_means_no_run_and_no_new_dataset_version(lab_settings, lab_resources, catalog, instance,
                                                             review, daemon):
    key = process_run(lab_settings, catalog, instance, lab_resources, "a.csv", signal_csv(4))
    review.confirm(key, "ana", detected(lab_settings, key), base_version=0)
    daemon.tick()
    count = len(instance.fetch_materializations(dg.AssetKey("confirmed_dataset"), limit=10).records)
    assert daemon.tick() == []
    assert len(instance.fetch_materializations(dg.AssetKey("confirmed_dataset"), limit=10).records) == count


def test_annotations_of_a_run_without_confirmation_fail_clearly(lab_settings, lab_resources, catalog, instance):
    from lab_assets.etl import run_etl
    from lab_assets.review import annotations

    key = process_run(lab_settings, catalog, instance, lab_resources, "b.csv", signal_csv(5))
    result = dg.materialize([run_etl, annotations], selection=[annotations], instance=instance,
                            resources=lab_resources, partition_key=key, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "has no confirmed annotation yet" in failure.step_failure_data.error.message


def test_a_registered_experiment_links_arriving_files_and_its_inputs_reach_the_dataset(
        lab_settings, lab_resources, catalog, instance, review, daemon):
    ExperimentStore(catalog).register("EXP-42", campaign="yield-opt", inputs={"temperature_c": 80.0},
                                      file_pattern="exp42_*.csv")
    key = process_run(lab_settings, catalog, instance, lab_resources, "uv/exp42_a.csv", signal_csv(7))
    run = catalog.get_run(key)
    assert run.experiment_id == "EXP-42" and run.params["campaign"] == "yield-opt"
    review.confirm(key, "ana", detected(lab_settings, key), base_version=0)
    daemon.tick()
    _, rows = latest_dataset(instance)
    row = rows.row(0, named=True)
    assert (row["experiment_id"], row["campaign"]) == ("EXP-42", "yield-opt")
    assert json.loads(row["inputs"]) == {"temperature_c": 80.0}
