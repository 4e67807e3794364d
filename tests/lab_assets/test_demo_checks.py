"""A fresh demo raises no check warning that does not apply: its files are clean, and a recipe whose
objective is not measured on peaks (the furnace's plateau) is not warned about finding none."""

from __future__ import annotations

from datetime import datetime, timezone

import dagster as dg
import numpy as np
import pytest

from lab_assets.etl import run_etl
from labflow.demo.files import EU152_LINES_KEV, demo_files, gamma_spectrum
from labflow.store.outputs import OutputStore
from tests.lab_fixtures import register_run


def test_a_fresh_demo_raises_no_check_warning(lab_settings, catalog, instance, lab_resources):
    outcomes = []
    for demo in demo_files(5, seed=7):  # one file of each instrument: HPLC, ECG, photodetector, furnace, gamma
        key = register_run(lab_settings, catalog, instance, demo.relative_path, demo.data, demo.sidecar)
        result = dg.materialize([run_etl], instance=instance, resources=lab_resources, partition_key=key)
        assert result.success
        outcomes += [(demo.relative_path, e.check_name, e.passed, e.description)
                     for e in result.get_asset_check_evaluations()]
    assert len(outcomes) == 5 * 4
    assert [o for o in outcomes if not o[2]] == []
    furnace = next(o for o in outcomes if o[0].startswith("furnace") and o[1] == "peaks_found")
    assert "recipe 'furnace' measures a plateau_mean, not peaks" in furnace[3]


def test_the_demo_gamma_spectrum_gets_its_lines_on_the_energy_axis(lab_settings, catalog, instance, lab_resources):
    """The demo's gamma spectrometer: read as ORTEC with its energy calibration, the gamma recipe, and every
    Eu-152 line it was made with (and the room's K-40) found within 1 keV, nothing else."""
    demo = gamma_spectrum(np.random.default_rng(1), 4, datetime(2026, 1, 1, tzinfo=timezone.utc))
    key = register_run(lab_settings, catalog, instance, demo.relative_path, demo.data, demo.sidecar)
    assert dg.materialize([run_etl], instance=instance, resources=lab_resources, partition_key=key).success
    assert catalog.get_run(key).recipe_id == "gamma"
    positions = np.sort(OutputStore(lab_settings.storage).read_frame("peaks", key)["time_s"].to_numpy())
    assert positions == pytest.approx(sorted((*EU152_LINES_KEV, 1460.82)), abs=1.0)
