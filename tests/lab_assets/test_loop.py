"""The labelling loop through the real loop assets on a real Dagster instance, with a perfect annotator."""

from __future__ import annotations

import json

import dagster as dg
import polars as pl
import pytest

from lab_assets.loop import LOOP_ASSETS
from lab_assets.partitions import ITERATIONS_PARTITION
from labflow.loop.iterations import IterationStore
from labflow.loop.steps import INFERENCE, METRICS, TRAINING_SET, latest_proposals, metrics_table, next_windows
from labflow.review.store import ReviewStore
from labflow.store.outputs import open_output_store
from tests.lab_fixtures import process_run
from tests.loop_fixtures import KINDS, anomalous_series, oracle_confirm, series_csv

# (kinds of anomaly) per run: three held-out runs with every kind, a pool the loop labels from.
HOLDOUT = {f"holdout_{i}": KINDS for i in range(3)}
POOL = {"pool_0": ("spike",), "pool_1": ("shift", "burst"), "pool_2": ("burst",), "pool_3": ("shift",),
        "pool_4": ("spike", "burst"), "pool_5": (), "pool_6": ("shift", "spike"), "pool_7": ("burst", "shift")}
# The first run labelled holds only a glaring spike: a model of it alone misses the subtler anomalies.
STRENGTH = {"pool_0": 3.0}


@pytest.fixture
def loop_lab(lab_settings, catalog, instance, lab_resources):
    truth, keys = {}, {}
    for seed, (name, kinds) in enumerate({**HOLDOUT, **POOL}.items()):
        t, y, spans = anomalous_series(seed, kinds, strength=STRENGTH.get(name, 1.0))
        key = process_run(lab_settings, catalog, instance, lab_resources, f"{name}.csv", series_csv(t, y))
        keys[name], truth[key] = key, spans
    return keys, truth


def materialize_iteration(instance, resources, key: str) -> None:
    instance.add_dynamic_partitions(ITERATIONS_PARTITION, [key])
    assert dg.materialize(LOOP_ASSETS, instance=instance, resources=resources, partition_key=key).success


def test_a_perfect_annotator_raises_f1_from_iteration_1_to_3(loop_lab, lab_settings, catalog, instance,
                                                            lab_resources):
    keys, truth = loop_lab
    review, iterations = ReviewStore(catalog), IterationStore(catalog)
    outputs = open_output_store(lab_settings)
    holdout = [keys[name] for name in HOLDOUT]
    for run in [*holdout, keys["pool_0"]]:
        oracle_confirm(review, run, truth[run])

    scores = []
    for number in (1, 2, 3):
        iteration = iterations.create("ana", config={"holdout_runs": holdout, "label_budget": 20})
        assert iteration.number == number
        materialize_iteration(instance, lab_resources, iteration.key)
        iteration = iterations.get(number)
        assert iteration.state == "Reviewing"
        assert [t.to_state for t in iteration.history] == ["Created", "Annotating", "DataReady", "Training",
                                                           "Trained", "Inferring", "Reviewing"]
        scores.append(iteration.metrics["event_f1"])
        queue = next_windows(iterations, review, outputs)
        assert queue.height > 0 and not set(queue["run_key"]) & {*holdout, *review_runs(review)}
        for run in list(dict.fromkeys(queue["run_key"].to_list()))[:2]:  # the oracle labels the top runs
            oracle_confirm(review, run, truth[run])
        iterations.transition(number, "Completed", "ana", note="next iteration")

    assert scores[2] > scores[0] and scores[2] >= 0.8, scores
    table = metrics_table(iterations)
    assert [row["iteration"] for row in table] == [1, 2, 3]
    assert table[2]["labels_spent"] > table[0]["labels_spent"]
    stored = outputs.read_json(METRICS, "iteration-3")
    assert [row["iteration"] for row in stored["previous"]] == [1, 2]
    jsonl = outputs.read_bytes(TRAINING_SET, "iteration-3", "jsonl").decode().splitlines()
    first = json.loads(jsonl[0])
    assert set(first) >= {"instruction", "input", "output"} and first["output"] in ("anomaly", "normal")
    assert outputs.read_frame(INFERENCE, "iteration-3").height > 0
    assert latest_proposals(iterations, outputs, holdout[0]), "the held-out run should get proposals"


def review_runs(review: ReviewStore) -> list[str]:
    return [v.run_key for v in review.latest_versions()]


def test_continuing_the_previous_model_on_new_labels(loop_lab, lab_settings, catalog, instance, lab_resources):
    keys, truth = loop_lab
    review, iterations = ReviewStore(catalog), IterationStore(catalog)
    holdout = [keys[name] for name in HOLDOUT]
    for run in [*holdout, keys["pool_0"], keys["pool_1"]]:
        oracle_confirm(review, run, truth[run])
    first = iterations.create("ana", config={"holdout_runs": holdout})
    materialize_iteration(instance, lab_resources, first.key)
    oracle_confirm(review, keys["pool_2"], truth[keys["pool_2"]])
    oracle_confirm(review, keys["pool_5"], truth[keys["pool_5"]])
    iterations.transition(1, "Completed", "ana")
    second = iterations.create("ana", config={"continue_from_previous": True})
    assert second.config["holdout_runs"] == holdout  # settings carry over
    materialize_iteration(instance, lab_resources, second.key)
    record = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("anomaly_model"), asset_partitions=[second.key]), limit=1).records
    metadata = record[0].asset_materialization.metadata
    assert metadata["continued"].value is True
    assert metadata["continued_from"].value == "iteration-1"
    assert metadata["windows"].value < outputs_height(lab_settings, second.key)


def outputs_height(settings, key: str) -> int:
    return open_output_store(settings).read_frame(TRAINING_SET, key).height


def test_training_set_fails_clearly_without_anomalies(lab_settings, catalog, instance, lab_resources):
    t, y, _ = anomalous_series(1, ())
    run = process_run(lab_settings, catalog, instance, lab_resources, "quiet.csv", series_csv(t, y))
    oracle_confirm(ReviewStore(catalog), run, [])
    iteration = IterationStore(catalog).create("ana")
    instance.add_dynamic_partitions(ITERATIONS_PARTITION, [iteration.key])
    result = dg.materialize(LOOP_ASSETS, instance=instance, resources=lab_resources, partition_key=iteration.key,
                            raise_on_error=False)
    assert not result.success
    failure = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"][0]
    assert "all" in failure.step_failure_data.error.message and "normal" in failure.step_failure_data.error.message
    assert IterationStore(catalog).get(1).state == "DataReady"  # not stuck in Training
    frame = open_output_store(lab_settings).read_frame(TRAINING_SET, iteration.key)
    assert frame.height > 0 and frame["label"].sum() == 0 and isinstance(frame, pl.DataFrame)
