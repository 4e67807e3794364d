"""The confirmed dataset seen from the app: only confirmed, accepted runs; the newest version; downloads."""

from __future__ import annotations

import polars as pl
import pytest

from labflow.review.confirmed import annotation_output, build_confirmed_dataset
from tests.lab_fixtures import process_confirmations, process_run
from tests.ui.conftest import two_peak_csv
from ui import review_logic as logic
from ui.dataset import dataset_table, latest_dataset
from ui.downloads import dataset_files


@pytest.fixture
def three_runs(app_context, lab_settings, instance, lab_resources) -> list[str]:
    return [process_run(lab_settings, app_context.catalog, instance, lab_resources, f"run_{n}.csv",
                        two_peak_csv(seed=n)) for n in range(3)]


def review(ctx, key: str, name: str, verdict: str, *, confirm: bool) -> None:
    state = logic.open_run(ctx, key, name)
    state = logic.mark(ctx, state, name, verdict, [] if verdict == "valid" else ["sample_problem"], "")
    if confirm:
        _, message, counted = logic.confirm_draft(ctx, state, name, verdict, state.session.annotation.reasons, "")
        assert counted, message


def test_rejected_runs_and_drafts_never_enter_the_dataset(app_context, three_runs):
    accepted, rejected, drafted = three_runs
    review(app_context, accepted, "ana", "valid", confirm=True)
    review(app_context, rejected, "ana", "failed_experiment", confirm=True)
    review(app_context, drafted, "ben", "valid", confirm=False)
    outputs = []
    for key in three_runs:
        version = app_context.store.latest_version(key)
        if version is not None:
            run = app_context.catalog.get_run(key)
            stored, _ = annotation_output(run, version, app_context.recipe_for(run),
                                          app_context.outputs.read_frame("clean_series", key))
            outputs.append(stored)
    assert [o["run_key"] for o in outputs] == [accepted, rejected]
    assert build_confirmed_dataset(outputs)["run_key"].to_list() == [accepted]


def test_the_dataset_view_shows_the_newest_materialized_version(app_context, three_runs, instance, lab_resources,
                                                                tmp_path):
    assert latest_dataset(app_context.gateway, app_context.outputs) is None
    first, second, _ = three_runs
    review(app_context, first, "ana", "valid", confirm=True)
    review(app_context, second, "ana", "valid", confirm=True)
    process_confirmations(instance, lab_resources)
    version = latest_dataset(app_context.gateway, app_context.outputs)
    assert version is not None and sorted(version.frame["run_key"].to_list()) == sorted([first, second])
    metadata = app_context.gateway.latest("confirmed_dataset").metadata
    assert version.digest == metadata["digest"] and version.digest in version.summary
    table = dataset_table(version)
    assert set(table["run_key"]) == {first, second} and table["objective"].notna().all()

    # the second run turns out to be a failed experiment: the next version leaves it out
    review(app_context, second, "ben", "failed_experiment", confirm=True)
    process_confirmations(instance, lab_resources)
    newer = latest_dataset(app_context.gateway, app_context.outputs)
    assert newer.frame["run_key"].to_list() == [first] and newer.digest != version.digest

    csv, parquet = dataset_files(newer.frame, newer.digest, tmp_path)
    assert pl.read_parquet(parquet).equals(newer.frame)
    assert pl.read_csv(csv)["run_key"].to_list() == [first]
    assert newer.digest in csv.name
