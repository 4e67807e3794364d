from pathlib import Path

import pytest

from labflow.processing.recipes import Recipe, RecipeBook, RecipeError, load_recipe_file, validate_recipe
from labflow.settings import PROJECT_ROOT


def test_shipped_recipes_are_valid():
    book = RecipeBook.from_dir(PROJECT_ROOT / "recipes")
    assert {"default", "ecg", "chromatograph"} <= set(book.ids)


def test_bad_field_is_named_by_its_path(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text("id: bad\nsmoothing:\n  window: 0\npeaks:\n  mode: sometimes\n")
    with pytest.raises(RecipeError) as error:
        load_recipe_file(path)
    assert "smoothing.window" in str(error.value)
    assert "peaks.mode" in str(error.value)


def test_unknown_fields_are_refused():
    with pytest.raises(RecipeError, match="smoothing.windw"):
        validate_recipe({"id": "x", "smoothing": {"windw": 5}})


def test_peak_near_needs_a_position():
    with pytest.raises(RecipeError, match="position_s"):
        validate_recipe({"id": "x", "objective": {"kind": "peak_near"}})


def test_content_hash_changes_with_content_only():
    a = Recipe(id="a")
    assert a.content_hash == Recipe(id="a").content_hash
    assert a.content_hash != a.with_overrides({"smoothing.window": 9}).content_hash


def test_overrides_are_validated():
    with pytest.raises(RecipeError, match="unknown recipe parameter"):
        Recipe(id="a").with_overrides({"nonsense.window": 1})
    with pytest.raises(RecipeError, match="smoothing.window"):
        Recipe(id="a").with_overrides({"smoothing.window": -3})


def test_recipe_choice_request_then_instrument_then_default(tmp_path: Path):
    (tmp_path / "hplc.yaml").write_text("id: hplc\ninstruments: [hplc-01]\n")
    book = RecipeBook.from_dir(tmp_path)
    assert book.for_run(instrument="hplc-01").id == "hplc"
    assert book.for_run(instrument="other").id == "default"
    assert book.for_run(instrument="hplc-01", requested="default").id == "default"
    with pytest.raises(RecipeError, match="unknown recipe 'nope'"):
        book.for_run(instrument=None, requested="nope")


def test_duplicate_ids_are_an_error(tmp_path: Path):
    (tmp_path / "a.yaml").write_text("id: same\n")
    (tmp_path / "b.yaml").write_text("id: same\n")
    with pytest.raises(RecipeError, match="defined twice"):
        RecipeBook.from_dir(tmp_path)
