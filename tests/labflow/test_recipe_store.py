"""Recipe templates: import/export, validation errors, versions by content hash, diffs, defaults."""

from __future__ import annotations

import json

import pytest

from labflow.processing.recipe_store import RecipeStore
from labflow.processing.recipes import RecipeError
from labflow.runtime_config import RuntimeConfigError, effective_settings, load_runtime_config, update_runtime_config
from labflow.settings import PROJECT_ROOT, Settings

SHIPPED = PROJECT_ROOT / "recipes"


@pytest.fixture
def store(tmp_path) -> RecipeStore:
    return RecipeStore(SHIPPED, tmp_path / "home")


def test_import_replaces_a_shipped_recipe_and_keeps_both_versions(store):
    shipped = store.get("chromatograph")
    edited = store.export("chromatograph").replace("window: 9", "window: 15")
    imported = store.import_text(edited)
    assert imported.smoothing.window == 15 and imported.content_hash != shipped.content_hash
    info = {r.id: r for r in store.list()}
    assert info["chromatograph"].source == "imported" and info["default"].source == "shipped"
    hashes = [v.content_hash for v in store.versions("chromatograph")]
    assert set(hashes) == {shipped.content_hash, imported.content_hash}
    diff = store.diff("chromatograph", shipped.content_hash, imported.content_hash)
    assert "-  window: 9" in diff and "+  window: 15" in diff
    assert store.diff("chromatograph", shipped.content_hash, shipped.content_hash) == ""


def test_json_round_trip(store):
    text = store.export("ecg", "json")
    assert json.loads(text)["id"] == "ecg"
    assert store.import_text(text, "json") == store.get("ecg")


@pytest.mark.parametrize("text, message", [
    ("id: x\nsmoothing:\n  window: 0\n", "smoothing.window"),
    ("id: x\npeaks:\n  mode: sometimes\n", "peaks.mode"),
    ("id: 'bad id!'\n", "id"),
    ("id: x\nsmoothing: [1, 2\n", "cannot be read"),
    ("- just\n- a list\n", "must be a mapping"),
])
def test_a_bad_recipe_is_refused_naming_the_field_and_nothing_is_written(store, text, message):
    with pytest.raises(RecipeError, match=message.replace(".", r"\.")):
        store.import_text(text)
    assert not (store.user_dir / "x.yaml").exists()


def test_default_recipe_per_instrument_from_the_runtime_config(tmp_path, store):
    settings = Settings.from_env({"LABFLOW_HOME": str(tmp_path / "home")})
    assert store.book().for_run(instrument="hplc-01").id == "chromatograph"
    update_runtime_config(settings, {"default_recipes.hplc-01": "default"}, known_recipes={"default", "ecg"})
    defaults = load_runtime_config(settings).default_recipes
    assert store.book(defaults).for_run(instrument="hplc-01").id == "default"
    with pytest.raises(RuntimeConfigError, match="unknown recipe 'nope'"):
        update_runtime_config(settings, {"default_recipes.uv": "nope"}, known_recipes={"default"})
    update_runtime_config(settings, {"default_recipes.hplc-01": ""})
    assert load_runtime_config(settings).default_recipes == {}


def test_runtime_config_validates_edits_and_reports_sources(tmp_path):
    settings = Settings.from_env({"LABFLOW_HOME": str(tmp_path / "home")})
    settings.ensure_dirs()
    assert update_runtime_config(settings, {"alerts.min_quality": 0.7}).alerts.min_quality == 0.7
    for changes, message in [({"alerts.min_quality": 3}, "less than or equal to 1"),
                             ({"alerts.nope": 1}, "not an editable setting"),
                             ({"database_url": "x"}, "not an editable setting")]:
        with pytest.raises(RuntimeConfigError, match=message):
            update_runtime_config(settings, changes)
    assert load_runtime_config(settings).alerts.min_quality == 0.7  # a refused edit changes nothing
    rows = {r["name"]: r for r in effective_settings(settings, env={"LABFLOW_ETL_MODE": "lazy"})}
    assert rows["etl_mode"]["source"] == "environment (LABFLOW_ETL_MODE)"
    assert rows["batch_size"]["source"] == "default" and not rows["batch_size"]["editable"]
    assert rows["alerts.min_quality"] == {"name": "alerts.min_quality", "value": "0.7",
                                          "source": str(settings.home / "config.yaml"), "editable": True}


def test_passwords_are_hidden_in_the_effective_settings(tmp_path):
    settings = Settings.from_env({"LABFLOW_HOME": str(tmp_path / "h"),
                                  "LABFLOW_DATABASE_URL": "postgresql://lab:s3cret@db:5432/lab"})
    rows = {r["name"]: r for r in effective_settings(settings, env={})}
    assert "s3cret" not in rows["database_url"]["value"] and "lab:***@db" in rows["database_url"]["value"]
