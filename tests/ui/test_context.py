"""The app's context: one of everything for every tab, and the recipes as they are on disk now."""

from __future__ import annotations

from labflow.processing.recipe_store import RecipeStore, to_yaml
from labflow.runtime_config import update_runtime_config


def test_an_imported_recipe_and_a_new_default_reach_the_app_without_a_restart(app_context):
    ctx = app_context
    store = RecipeStore(ctx.settings.recipes_dir, ctx.settings.home)
    shipped = ctx.processor.recipes.get("default")
    changed = shipped.model_copy(update={"smoothing": shipped.smoothing.model_copy(
        update={"window": shipped.smoothing.window + 2})})
    store.import_text(to_yaml(changed))  # what the Recipes & settings tab does
    assert ctx.processor.recipes.get("default").content_hash == changed.content_hash != shipped.content_hash
    assert ctx.processor.recipes.for_run(instrument="hplc-99").id == "default"
    update_runtime_config(ctx.settings, {"default_recipes.hplc-99": "ecg"})
    assert ctx.processor.recipes.for_run(instrument="hplc-99").id == "ecg"
    processor = ctx.processor
    assert ctx.processor is processor and ctx.outputs is processor.outputs  # one processor, one output store
