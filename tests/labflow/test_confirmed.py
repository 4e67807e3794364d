"""The confirmed dataset from stored annotation outputs: who enters, grouping for optimisers, digests."""

from __future__ import annotations

import pytest

from labflow.review.confirmed import build_confirmed_dataset, dataset_digest, experiment_points, why_left_out


def output(run_key: str, verdict: str = "valid", experiment: str | None = "E1", objective: float | None = 1.0,
           version: int = 1, when: str = "2026-01-01T10:00:00+00:00", inputs: dict | None = None) -> dict:
    return {"run_key": run_key, "verdict": verdict, "experiment_id": experiment, "campaign": "C",
            "inputs": inputs if inputs is not None else {"t": 80}, "version": version, "author": "ana",
            "confirmed_at": when, "file_sha256": "f" * 64, "recipe_id": "default", "recipe_hash": "abc",
            "objective": {"kind": "main_peak_height", "value": objective, "detail": "d"}, "peaks": [{}, {}]}


def test_only_accepted_verdicts_enter_the_dataset():
    frame = build_confirmed_dataset([output("a"), output("b", "invalid"), output("c", "failed_experiment"),
                                     output("d", "peaks_wrong")])
    assert frame["run_key"].to_list() == ["a", "d"]
    assert frame.row(0, named=True)["peak_count"] == 2 and frame.row(0, named=True)["inputs"] == '{"t": 80}'


def test_empty_dataset_has_the_schema():
    frame = build_confirmed_dataset([output("x", "invalid")])
    assert frame.height == 0 and "objective" in frame.columns


def test_points_group_runs_of_one_experiment_and_average_their_objective():
    frame = build_confirmed_dataset([
        output("a", objective=1.0, when="2026-01-01T10:00:00+00:00"),
        output("b", objective=3.0, when="2026-01-02T10:00:00+00:00"),
        output("c", experiment=None, objective=4.0, inputs={"t": 90}),
    ])
    points = {p["experiment_id"]: p for p in experiment_points(frame)}
    e1 = points["E1"]
    assert e1["objective"] == pytest.approx(2.0) and e1["run_ids"] == ["a", "b"] and e1["inputs"] == {"t": 80}
    assert e1["confirmed_at"].day == 2 and [p["run_key"] for p in e1["provenance"]] == ["a", "b"]
    assert points[None]["objective"] == 4.0 and points[None]["run_ids"] == ["c"]


def test_runs_whose_objective_could_not_be_measured_stay_out():
    frame = build_confirmed_dataset([output("a", objective=None), output("b", objective=float("nan")),
                                     output("c", objective=2.0)])
    assert frame["run_key"].to_list() == ["c"]
    assert [p["objective"] for p in experiment_points(frame)] == [2.0]
    assert why_left_out("valid", None) == "its objective could not be measured"
    assert why_left_out("invalid", 3.0) == "rejected runs never do" and why_left_out("valid", 3.0) is None


def test_digest_changes_exactly_when_the_rows_change():
    first = build_confirmed_dataset([output("a"), output("b")])
    same = build_confirmed_dataset([output("b"), output("a")])
    changed = build_confirmed_dataset([output("a"), output("b", version=2)])
    assert dataset_digest(first) == dataset_digest(same) != dataset_digest(changed)
