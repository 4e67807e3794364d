"""Experiments, run linking, recommendations and the campaign view's data (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from labflow.review.annotations import Annotation
from labflow.store.catalog import Catalog
from labflow.experiments import (ExperimentError, ExperimentExists, ExperimentStore, Recommendation, chart_points,
                                 inputs_match, point_rows)
from labflow.keys import make_run_key, sha256_hex
from labflow.ingest.metadata import RunMetadata
from labflow.review.store import ReviewStore


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request, tmp_path) -> Catalog:
    url = (f"sqlite:///{tmp_path / 'catalog.db'}" if request.param == "sqlite"
           else request.getfixturevalue("postgres_url"))
    catalog = Catalog(url)
    yield catalog
    catalog.dispose()


def add_run(catalog: Catalog, name: str, *, experiment_id: str | None = None, params: dict | None = None):
    """Register a run the way ingest does and give it captured metadata."""
    sha = sha256_hex(name.encode())
    key = make_run_key(name, sha)
    catalog.register_file(run_key=key, sha256=sha, size_bytes=10, original_name=name, source=f"inbox:{name}",
                          object_path="/x", sidecar_name=None, sidecar_text=None,
                          detected_at=datetime.now(timezone.utc))
    catalog.set_metadata(key, RunMetadata(experiment_id=experiment_id, operator="alice", params=params or {}))
    return catalog.get_run(key)


def point(mean: float, **parameters) -> Recommendation:
    return Recommendation(parameters, mean, 0.1, "model_driven", "gp-1")


def test_register_is_idempotent_and_refuses_a_different_experiment_under_the_same_id(db):
    store = ExperimentStore(db)
    first, created = store.register("EXP-1", campaign="demo", inputs={"t": 40.0}, file_pattern="e1_*.csv")
    assert created and first.experiment_id == "EXP-1"
    again, created = store.register("EXP-1", campaign="demo", inputs={"t": 40.0}, file_pattern="e1_*.csv")
    assert not created and again == first
    with pytest.raises(ExperimentExists, match="already registered"):
        store.register("EXP-1", campaign="demo", inputs={"t": 41.0})
    generated, _ = store.register(None, campaign="demo", inputs={"t": 1})
    assert generated.experiment_id.startswith("EXP-") and len(store.list("demo")) == 2


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"campaign": "a b", "inputs": {"t": 1}}, "campaign 'a b'"),
    ({"campaign": "c", "inputs": {}}, "at least one input"),
    ({"campaign": "c", "inputs": {"t": [1, 2]}}, "input 't' must be"),
    ({"campaign": "c", "inputs": {"t": float("nan")}}, "input 't' must be"),
    ({"campaign": "c", "inputs": {"t": 1}, "file_pattern": "../x*.csv"}, "without folders"),
    ({"campaign": "c", "inputs": {"t": 1}, "file_pattern": "*"}, "every file"),
])
def test_bad_experiments_are_refused_with_the_reason(db, kwargs, message):
    with pytest.raises(ExperimentError, match=message):
        ExperimentStore(db).register("EXP-2", **kwargs)


def test_a_run_naming_its_experiment_is_linked_and_gets_campaign_and_inputs(db):
    store = ExperimentStore(db)
    store.register("EXP-7", campaign="demo", inputs={"temperature_c": 40.0, "flow": 1.0})
    run = add_run(db, "any.csv", experiment_id="EXP-7", params={"flow": 1.05})
    link = store.link_run(run)
    assert (link.experiment_id, link.matched_by) == ("EXP-7", "experiment_id")
    linked = db.get_run(run.run_key)
    assert linked.params == {"campaign": "demo", "temperature_c": 40.0, "flow": 1.05}  # measured value wins
    assert store.link_run(linked) == link  # linking again changes nothing
    assert store.runs_of("EXP-7") == [run.run_key]


def test_a_run_without_experiment_id_is_linked_by_the_newest_matching_file_pattern(db):
    store = ExperimentStore(db)
    store.register("EXP-old", campaign="demo", inputs={"t": 1}, file_pattern="batch7_*.csv")
    store.register("EXP-new", campaign="demo", inputs={"t": 2}, file_pattern="batch7_?.csv")
    link = store.link_run(add_run(db, "batch7_a.csv"))
    assert (link.experiment_id, link.matched_by) == ("EXP-new", "file_pattern")
    assert db.get_run(link.run_key).experiment_id == "EXP-new"
    assert store.link_run(add_run(db, "batch7_long.csv")).experiment_id == "EXP-old"
    assert store.link_run(add_run(db, "other.csv")) is None


def test_a_run_naming_an_unregistered_experiment_is_not_linked_by_pattern(db):
    store = ExperimentStore(db)
    store.register("EXP-1", campaign="demo", inputs={"t": 1}, file_pattern="*.csv")
    assert store.link_run(add_run(db, "x.csv", experiment_id="EXP-unknown")) is None


def test_recommendations_are_validated(db):
    store = ExperimentStore(db)
    with pytest.raises(ExperimentError, match="at least one point"):
        store.add_recommendations("demo", [])
    with pytest.raises(ExperimentError, match="point 1: unknown phase 'random'"):
        store.add_recommendations("demo", [point(1.0, t=1), Recommendation({"t": 2}, 1.0, 0.1, "random", "v")])
    with pytest.raises(ExperimentError, match="uncertainty"):
        store.add_recommendations("demo", [Recommendation({"t": 2}, 1.0, -0.1, "model_driven", "v")])
    assert store.batches("demo") == []


def test_campaign_status_follows_each_point_from_recommended_to_confirmed(db):
    store = ExperimentStore(db)
    store.add_recommendations("demo", [Recommendation({"t": 30.0}, 1.0, 0.5, "space_filling", "sobol")])
    store.add_recommendations("demo", [point(2.0, t=40.0), point(3.0, t=50.0), point(4.0, t=60.0)])
    store.register("EXP-40", campaign="demo", inputs={"t": 40.0 + 1e-12})
    store.register("EXP-50", campaign="demo", inputs={"t": 50.0})
    store.register("EXP-60", campaign="demo", inputs={"t": 60})
    store.register("EXP-other", campaign="other", inputs={"t": 30.0})
    ran = add_run(db, "r50.csv", experiment_id="EXP-50")
    confirmed = add_run(db, "r60.csv", experiment_id="EXP-60")
    store.link_run(ran)
    ReviewStore(db).confirm(confirmed.run_key, "bob", Annotation(verdict="valid"), base_version=0)
    status = store.campaign_status("demo")
    assert (status.phase, status.model_version, status.experiments, status.batches) == ("model_driven", "gp-1", 3, 2)
    assert [p.state for p in status.points] == ["recommended", "registered", "ran", "confirmed"]
    assert status.points[3].confirmed_run_keys == [confirmed.run_key]
    rows = point_rows(status)
    assert rows[1]["mean ± uncertainty"] == "2 ± 0.1" and rows[2]["runs"] == ran.run_key
    assert store.campaigns() == ["demo", "other"]


def test_inputs_match_needs_the_same_names_and_values():
    assert inputs_match({"a": 1.0, "b": "x"}, {"a": 1, "b": "x"})
    assert not inputs_match({"a": 1.0}, {"a": 1.0, "b": 2})
    assert not inputs_match({"a": 1.0}, {"a": 1.001})
    assert not inputs_match({"a": True}, {"a": 1})


def test_chart_points_use_the_single_numeric_parameter_as_x_axis(db):
    store = ExperimentStore(db)
    store.add_recommendations("one", [point(2.0, t=40.0), point(3.0, t=50)])
    axis, rows = chart_points(store.campaign_status("one"))
    assert axis == "t" and [(r["x"], r["mean"], r["state"]) for r in rows] == [(40.0, 2.0, "recommended"),
                                                                             (50.0, 3.0, "recommended")]
    store.add_recommendations("two", [point(1.0, t=1.0, p=2.0), point(1.5, t="fast")])
    axis, rows = chart_points(store.campaign_status("two"))
    assert axis == "recommended point" and [r["x"] for r in rows] == [1.0, 2.0]
    assert chart_points(store.campaign_status("none")) == ("recommended point", [])
