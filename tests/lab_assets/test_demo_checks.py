"""A fresh demo raises no check warning that does not apply: its files are clean, and a recipe whose
objective is not measured on peaks (the furnace's plateau) is not warned about finding none."""

from __future__ import annotations

import dagster as dg

from lab_assets.etl import run_etl
from labflow.demo.files import demo_files
from tests.lab_fixtures import register_run


def test_a_fresh_demo_raises_no_check_warning(lab_settings, catalog, instance, lab_resources):
    outcomes = []
    for demo in demo_files(4, seed=7):  # one file of each instrument: HPLC, ECG, photodetector, furnace
        key = register_run(lab_settings, catalog, instance, demo.relative_path, demo.data, demo.sidecar)
        result = dg.materialize([run_etl], instance=instance, resources=lab_resources, partition_key=key)
        assert result.success
        outcomes += [(demo.relative_path, e.check_name, e.passed, e.description)
                     for e in result.get_asset_check_evaluations()]
    assert len(outcomes) == 4 * 4
    assert [o for o in outcomes if not o[2]] == []
    furnace = next(o for o in outcomes if o[0].startswith("furnace") and o[1] == "peaks_found")
    assert "recipe 'furnace' measures a plateau_mean, not peaks" in furnace[3]
