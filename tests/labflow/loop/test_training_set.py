"""Windows, labels from confirmed anomaly intervals, the JSONL export, and the model on them."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from labflow.review.annotations import Annotation, AnomalyInterval
from labflow.store.catalog import Catalog
from labflow.loop.model import predict, train_model
from labflow.loop.training_set import (TrainingSetError, build_training_set, check_trainable, confirmed_intervals,
                                       label_windows, new_labels, to_jsonl, with_values)
from labflow.loop.windows import FEATURES, covering_max, series_windows
from labflow.review.store import ReviewStore
from tests.loop_fixtures import anomalous_series


def test_windows_cover_the_series_with_finite_features():
    t = np.arange(100) * 0.5
    y = np.sin(t)
    y[10] = np.nan
    frame = series_windows("r", t, y, window=32, step=16)
    assert frame["start_index"].to_list() == [0, 16, 32, 48, 64, 68]  # the tail window ends at the last sample
    assert frame["end_index"].max() == 100 and frame["window_id"][1] == "r:16"
    assert frame["start_s"][1] == 8.0 and frame["end_s"][0] == 15.5
    assert np.isfinite(frame.select(FEATURES).to_numpy()).all()
    assert series_windows("r", t[:3], y[:3]).height == 0
    assert series_windows("r", t[:10], y[:10], window=32).height == 1


def test_a_spike_stands_out_whatever_the_scale():
    t = np.arange(400) * 1.0
    base = np.random.default_rng(0).normal(0, 1, 400)
    base[200:203] += 12
    for scale in (1e-3, 1.0, 1e4):
        frame = series_windows("r", t, base * scale + 5 * scale, window=20, step=10)
        top = frame.sort("f_peak_dev", descending=True)["start_index"][0]
        assert 180 <= top <= 200


def test_labels_from_intervals_cover_short_and_long_anomalies():
    t = np.arange(200) * 1.0
    frame = series_windows("a", t, np.zeros(200), window=20, step=10)
    labelled = label_windows(frame, {"a": [(55.0, 57.0), (120.0, 199.0)]})
    positive = labelled.filter(pl.col("label") == 1)["start_index"].to_list()
    assert 40 in positive and 50 in positive  # the short spike inside both windows over it
    assert 30 not in positive and 60 not in positive
    assert all(s in positive for s in range(120, 180, 10)) and 100 not in positive  # 110–129 covers half
    assert label_windows(frame, {}).height == 0


def test_training_set_from_confirmed_annotations(tmp_path):
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    review = ReviewStore(catalog)
    for key in ("a", "b", "c", "broken", "unconfirmed"):
        catalog.register_file(run_key=key, sha256=key * 8, size_bytes=1, original_name=f"{key}.csv", source="t",
                              object_path="x", sidecar_name=None, sidecar_text=None,
                              detected_at=__import__("datetime").datetime.now())
    review.confirm("a", "ana", Annotation(intervals=(AnomalyInterval(start_s=10, end_s=20),)), base_version=0)
    review.confirm("b", "ana", Annotation(), base_version=0)
    review.confirm("c", "ana", Annotation(intervals=(AnomalyInterval(start_s=0, end_s=5),)), base_version=0)
    review.confirm("a", "bo", Annotation(intervals=(AnomalyInterval(start_s=30, end_s=40),)), base_version=1)
    review.confirm("broken", "ana", Annotation(verdict="invalid", reasons=("noise",)), base_version=0)
    intervals = confirmed_intervals(review)
    assert intervals == {"a": [(30.0, 40.0)], "b": [], "c": [(0.0, 5.0)]}  # newest version wins; no invalid run
    assert set(confirmed_intervals(review, accepted_only=False)) == {"a", "b", "c", "broken"}

    t = np.arange(60) * 1.0
    windows = pl.concat([with_values(series_windows(k, t, np.sin(t + i), window=10, step=10), np.sin(t + i))
                         .with_columns(pl.lit("signal").alias("channel"))
                         for i, k in enumerate(("a", "b", "c", "unconfirmed"))])
    training = build_training_set(windows, intervals, holdout={"c"})
    assert set(training["run_key"]) == {"a", "b"}
    assert training.filter(pl.col("run_key") == "a")["label"].to_list() == [0, 0, 0, 1, 0, 0]
    assert training.filter(pl.col("run_key") == "b")["label"].sum() == 0
    only = build_training_set(windows, intervals, labelled_ids={"a:30", "b:0"})
    assert sorted(only["window_id"]) == ["a:30", "b:0"]

    lines = [json.loads(line) for line in to_jsonl(training).splitlines()]
    assert len(lines) == training.height
    anomaly = next(line for line in lines if line["output"] == "anomaly")
    assert "signal" in anomaly["instruction"] and "run a" in anomaly["instruction"]
    assert len(anomaly["input"].split(", ")) == 10 and anomaly["meta"]["window_id"] == "a:30"
    catalog.dispose()


def test_only_new_or_changed_labels_count_as_new():
    before = pl.DataFrame({"window_id": ["a:0", "a:10"], "label": [0, 1]}, schema_overrides={"label": pl.Int8})
    now = pl.DataFrame({"window_id": ["a:0", "a:10", "b:0"], "label": [1, 1, 0]},
                       schema_overrides={"label": pl.Int8})
    assert sorted(new_labels(now, before)["window_id"]) == ["a:0", "b:0"]
    assert new_labels(now, None).height == 3


def test_the_model_needs_both_classes_and_learns_the_anomalies():
    with pytest.raises(TrainingSetError, match="empty"):
        check_trainable(pl.DataFrame({"label": []}, schema={"label": pl.Int8}))
    frames, truth = [], {}
    for seed in range(4):
        t, y, spans = anomalous_series(seed, ("spike", "shift", "burst"))
        frames.append(series_windows(f"r{seed}", t, y, window=16, step=8))
        truth[f"r{seed}"] = spans
    windows = pl.concat(frames)
    training = build_training_set(windows, truth, holdout={"r3"})
    with pytest.raises(TrainingSetError, match="normal"):
        train_model(training.with_columns(pl.lit(0, dtype=pl.Int8).alias("label")))
    model = train_model(training)
    assert model.anomalies == training["label"].sum() and not model.continued
    held = label_windows(windows, {"r3": truth["r3"]})
    p = predict(model.model, held)
    assert p[held["label"].to_numpy() == 1].mean() > 0.5 > p[held["label"].to_numpy() == 0].mean()
    continued = train_model(training.head(40).with_columns(pl.Series("label", [0, 1] * 20, dtype=pl.Int8)),
                            init_model=model.model)
    assert continued.continued and continued.rounds > model.rounds
    per_sample = covering_max(12, np.array([0, 4]), np.array([8, 12]), np.array([0.2, 0.9]))
    assert per_sample.tolist() == [0.2] * 4 + [0.9] * 8
