"""The ETL multi-asset materialized on a real Dagster instance, one file and a batch."""

from __future__ import annotations

from datetime import datetime, timezone

import dagster as dg
import numpy as np

from lab_assets.etl import run_etl
from lab_assets.partitions import RUNS_PARTITION
from lab_assets.gateway import DagsterGateway
from labflow.ingest.register import ingest_file
from labflow.ops.run_kinds import FILES, OUTCOME_TAG
from labflow.store.objects import open_object_store
from labflow.processing.pipeline import STEPS
from labflow.store.outputs import OutputStore
from tests.lab_fixtures import drop, register_run, signal_csv
from ui.operations import batch_table


def latest_metadata(instance, asset: str, key: str) -> dict:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[key]), limit=1).records
    assert records, f"{asset}[{key}] was not materialized"
    return records[0].asset_materialization.metadata


def materialized(instance, asset: str) -> set[str]:
    return instance.get_materialized_partitions(dg.AssetKey(asset))


def test_one_file_flows_through_every_asset(lab_settings, lab_resources, catalog, instance):
    key = register_run(lab_settings, catalog, instance, "hplc-01/run.csv", signal_csv(1),
                   sidecar={"operator": "alice", "experiment_id": "EXP-1", "params": {"flow": 1.2}})
    result = dg.materialize([run_etl], instance=instance, resources=lab_resources, partition_key=key)
    assert result.success
    for step in STEPS:
        assert materialized(instance, step) == {key}
    outputs = OutputStore(lab_settings.storage)
    peaks = outputs.read_frame("peaks", key)
    assert sorted(round(t) for t in peaks["time_s"]) == [10, 25]
    assert outputs.read_frame("clean_series", key).columns[:3] == ["time_s", "signal_mV", "signal_mV_clean"]
    run = catalog.get_run(key)
    assert (run.status, run.operator, run.instrument, run.experiment_id) == ("processed", "alice", "hplc-01", "EXP-1")
    assert run.params == {"flow": 1.2} and run.recipe_id == "chromatograph" and run.quality_score > 0.5
    meta = latest_metadata(instance, "raw_series", key)
    assert meta["rows"].value == 400 and meta["recipe_id"].text == "chromatograph"
    assert "| time_s |" in meta["preview"].md_str
    assert "data:image/png;base64," in latest_metadata(instance, "peaks", key)["plot"].md_str


def test_checks_are_evaluated_per_partition(lab_settings, lab_resources, catalog, instance):
    key = register_run(lab_settings, catalog, instance, "a.csv", signal_csv(2))
    other = register_run(lab_settings, catalog, instance, "b.csv", b"t,v\n0,1\n1,1\n2,1\n3,1\n")
    result = dg.materialize([run_etl], instance=instance, resources=lab_resources,
                            tags={"dagster/asset_partition_range_start": key,
                                  "dagster/asset_partition_range_end": other})
    assert result.success
    found = {(e.check_name, e.partition): e.passed for e in result.get_asset_check_evaluations()}
    assert found[("score_above_minimum", key)] and found[("peaks_found", key)]
    assert found[("peaks_found", other)] is False  # a flat line has no peaks
    assert len(found) == 8


def test_a_batch_with_a_bad_file_processes_the_others_and_quarantines_it(
        lab_settings, lab_resources, catalog, instance):
    good = [register_run(lab_settings, catalog, instance, f"g{i}.csv", signal_csv(10 + i)) for i in range(3)]
    bad = register_run(lab_settings, catalog, instance, "broken.csv", b"time,value\n1,2\n2,abc\n3,4\n4,5\n")
    keys = instance.get_dynamic_partitions(RUNS_PARTITION)
    result = dg.materialize([run_etl], instance=instance, resources=lab_resources, raise_on_error=False,
                            tags={**FILES, "labflow/files": "4", "dagster/asset_partition_range_start": keys[0],
                                  "dagster/asset_partition_range_end": keys[-1]})
    assert not result.success
    assert materialized(instance, "quality_report") == set(good)
    assert materialized(instance, "raw_file") == {*good, bad}
    assert bad not in materialized(instance, "raw_series")
    assert not OutputStore(lab_settings.storage).exists("raw_series", bad)
    run = catalog.get_run(bad)
    assert run.status == "failed" and "abc" in run.error
    error_file = lab_settings.quarantine / f"{bad}.csv.error.txt"
    assert "abc" in error_file.read_text() and (lab_settings.quarantine / f"{bad}.csv").exists()
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    said = "3 processed, 1 quarantined (broken.csv: "
    assert failure.step_failure_data.user_failure_data.description.startswith(said)
    assert instance.get_run_by_id(result.run_id).tags[OUTCOME_TAG].startswith(said)
    (shown,) = batch_table(DagsterGateway(instance)).to_dict("records")  # what Operations shows
    assert shown["files"] == "4" and shown["what happened"].startswith(said) and "abc" in shown["what happened"]


def test_a_bad_sidecar_is_quarantined_at_raw_file(lab_settings, lab_resources, catalog, instance):
    key = register_run(lab_settings, catalog, instance, "a.csv", signal_csv(3))
    drop(lab_settings.inbox, "b.csv", signal_csv(4))
    (lab_settings.inbox / "b.csv.meta.json").write_text("{not json")
    bad = ingest_file(lab_settings.inbox, "b.csv", objects=open_object_store(lab_settings), catalog=catalog,
                      is_known_run=lambda k: False, now=datetime.now(timezone.utc)).run_key
    instance.add_dynamic_partitions(RUNS_PARTITION, [bad])
    result = dg.materialize([run_etl], instance=instance, resources=lab_resources, raise_on_error=False,
                            tags={"dagster/asset_partition_range_start": key,
                                  "dagster/asset_partition_range_end": bad})
    assert not result.success
    assert materialized(instance, "raw_file") == {key}
    assert "not valid JSON" in catalog.get_run(bad).error


def test_a_step_reruns_with_launchpad_parameters(lab_settings, lab_resources, catalog, instance):
    key = register_run(lab_settings, catalog, instance, "a.csv", signal_csv(5))
    assert dg.materialize([run_etl], instance=instance, resources=lab_resources, partition_key=key).success
    config = dg.RunConfig(ops={"run_etl": {"config": {"smoothing_window": 21}}})
    result = dg.materialize([run_etl], instance=instance, resources=lab_resources, partition_key=key,
                            selection=["clean_series"], run_config=config)
    assert result.success
    meta = latest_metadata(instance, "clean_series", key)
    assert meta["window"].value == 21 and "smoothing.window=21" in meta["recipe_overrides"].text
    cleaned = OutputStore(lab_settings.storage).read_frame("clean_series", key)
    raw = cleaned["signal_mV"].to_numpy()
    assert abs(cleaned["signal_mV_clean"][200] - raw[190:211].mean()) < 1e-9


def test_downstream_step_without_its_input_fails_clearly(lab_settings, lab_resources, catalog, instance):
    key = register_run(lab_settings, catalog, instance, "a.csv", signal_csv(6))
    result = dg.materialize([run_etl], instance=instance, resources=lab_resources, partition_key=key,
                            selection=["peaks"], raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "clean_series of run" in failure.step_failure_data.user_failure_data.description


def _raman() -> bytes:
    """A header-less Raman shift / intensity pair: one band at 400 cm-1 on noise."""
    shift = 100 + 2.0 * np.arange(300)
    counts = 50 + 900 * np.exp(-(((shift - 400) / 8) ** 2)) + np.random.default_rng(1).normal(0, 2, 300)
    return "".join(f"{x:.1f}\t{y:.2f}\n" for x, y in zip(shift, counts)).encode()


RAMAN = _raman()


def test_a_spectrum_is_read_on_its_axis_with_its_axis_kinds_recipe(lab_settings, lab_resources, catalog, instance):
    key = register_run(lab_settings, catalog, instance, "raman_lamp.txt", RAMAN)
    result = dg.materialize([run_etl], instance=instance, resources=lab_resources, partition_key=key)
    assert result.success
    outputs = OutputStore(lab_settings.storage)
    info = outputs.read_json("raw_series_info", key)
    assert info["reader"] == "raman" and info["axis"]["kind"] == "raman_shift" and info["channels"] == ["Intensity"]
    assert any("no header" in note for note in info["notes"])
    peaks = outputs.read_frame("peaks", key)
    assert [round(t) for t in peaks["time_s"]] == [400]  # a position on the Raman-shift axis, not a row index
    run = catalog.get_run(key)
    assert run.recipe_id == "raman" and "reader_notes" in run.quality_flags
    assert "Raman shift (cm-1)" in latest_metadata(instance, "raw_series", key)["axis"].text


def test_a_file_no_reader_is_sure_of_is_quarantined_with_the_message(lab_settings, lab_resources, catalog, instance):
    key = register_run(lab_settings, catalog, instance, "lamp.txt", RAMAN)
    result = dg.materialize([run_etl], instance=instance, resources=lab_resources, partition_key=key,
                            raise_on_error=False)
    assert not result.success
    run = catalog.get_run(key)
    assert run.status == "failed" and "no reader is sure" in run.error and "reader:" in run.error
    assert "no reader is sure" in (lab_settings.quarantine / f"{key}.txt.error.txt").read_text()


def _signal_with_side_channels() -> bytes:
    """Two peaks on the main channel, a noise-only side channel and an unused slot that reads 0."""
    t = np.arange(400) * 0.1
    rng = np.random.default_rng(7)
    peaks = 50 * np.exp(-0.5 * ((t - 10) / 0.8) ** 2) + 30 * np.exp(-0.5 * ((t - 25) / 0.8) ** 2)
    signal = peaks + rng.normal(0, 0.2, 400)
    aux = rng.normal(0, 1.0, 400)
    rows = "".join(f"{x:.1f},{s:.4f},{a:.4f},0\n" for x, s, a in zip(t, signal, aux))
    return ("time_s,signal_mV,aux_mV,VAR1\n" + rows).encode()


def test_quality_judges_the_main_channel_and_informational_flags_need_no_review(
        lab_settings, lab_resources, catalog, instance):
    key = register_run(lab_settings, catalog, instance, "bench-07/run.csv", _signal_with_side_channels())
    assert dg.materialize([run_etl], instance=instance, resources=lab_resources, partition_key=key).success
    run = catalog.get_run(key)
    assert run.quality_flags == ["noisy_side_channels", "unused_channels"]
    assert run.quality_score > 0.9 and run.review_status == "new"
    report = OutputStore(lab_settings.storage).read_json("quality_report", key)
    assert "aux_mV" in report["explanations"]["noisy_side_channels"]
    assert report["metrics"]["main_snr_db"] == report["metrics"]["snr_db.signal_mV"]
