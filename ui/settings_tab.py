"""The Recipes & settings tab (Gradio): recipe templates (import, export, versions, diff) and settings."""

from __future__ import annotations

from typing import Any

import gradio as gr
import pandas as pd

from labflow.store.atomic import write_atomic
from labflow.processing.recipe_store import RecipeStore
from labflow.processing.recipes import RecipeError
from labflow.runtime_config import RuntimeConfigError, effective_settings, update_runtime_config
from ui.context import AppContext


def recipes_frame(store: RecipeStore) -> pd.DataFrame:
    """The recipes in effect as a table."""
    return pd.DataFrame([{"id": r.id, "version": r.version, "hash": r.content_hash, "source": r.source,
                          "instruments": ", ".join(r.instruments), "description": r.description}
                         for r in store.list()])


def settings_frame(ctx: AppContext) -> pd.DataFrame:
    """Effective settings with the source of each value."""
    return pd.DataFrame(effective_settings(ctx.settings))


def build_settings_tab(ctx: AppContext, app: gr.Blocks) -> None:
    """Recipe templates on the left, settings on the right."""
    store = RecipeStore(ctx.settings.recipes_dir, ctx.settings.home)
    ids = [r.id for r in store.list()]
    with gr.Row():
        with gr.Column(scale=3):
            gr.Markdown("### Recipe templates")
            recipes = gr.Dataframe(recipes_frame(store), interactive=False, label="Recipes in effect")
            with gr.Row(equal_height=True):
                chosen = gr.Dropdown(ids, value=ids[0] if ids else None, label="Recipe")
                fmt = gr.Radio(["yaml", "json"], value="yaml", label="Format")
                export = gr.DownloadButton("Export", size="sm")
            text = gr.Code(language="yaml", label="Recipe text (edit and import, or paste a new one)", lines=18)
            with gr.Row():
                import_button = gr.Button("Validate and import", variant="primary")
            recipe_message = gr.Markdown("")
            with gr.Row(equal_height=True):
                old = gr.Dropdown([], label="Compare version")
                new = gr.Dropdown([], label="with version")
                compare = gr.Button("Diff", size="sm")
            diff = gr.Code(language=None, label="Diff", lines=10)
        with gr.Column(scale=2):
            gr.Markdown("### Settings\nDeployment settings come from the environment (restart to change); "
                        "the editable ones apply at the next sensor tick.")
            table = gr.Dataframe(settings_frame(ctx), interactive=False, label="Effective configuration",
                                 wrap=True)
            with gr.Row(equal_height=True):
                name = gr.Dropdown([r["name"] for r in effective_settings(ctx.settings) if r["editable"]]
                                   + ["default_recipes.<instrument>"], label="Setting", allow_custom_value=True)
                value = gr.Textbox(label="New value (empty removes a default recipe)")
            save = gr.Button("Save setting")
            settings_message = gr.Markdown("")

    def show(recipe_id: str, form: str) -> list[Any]:
        if not recipe_id:
            return [gr.skip()] * 5
        versions = [v.content_hash for v in store.versions(recipe_id)]
        path = ctx.downloads_dir / f"{recipe_id}.{form}"
        exported = store.export(recipe_id, form)
        write_atomic(path, exported.encode())
        return [gr.update(value=exported, language=form), str(path),
                gr.update(choices=versions, value=versions[0] if versions else None),
                gr.update(choices=versions, value=versions[-1] if versions else None), ""]

    def import_recipe(content: str, form: str) -> list[Any]:
        try:
            recipe = store.import_text(content, form)
        except RecipeError as error:
            return [f"⚠ {error}".replace("\n", "  \n"), gr.skip(), gr.skip()]
        return [f"✓ imported **{recipe.id}** version {recipe.version} (hash `{recipe.content_hash}`); new runs use it",
                recipes_frame(store), gr.update(choices=[r.id for r in store.list()], value=recipe.id)]

    def compare_versions(recipe_id: str, first: str, second: str) -> str:
        if not (recipe_id and first and second):
            return "choose two versions"
        try:
            return store.diff(recipe_id, first, second) or "(the two versions are identical)"
        except RecipeError as error:
            return str(error)

    def save_setting(setting: str, new_value: str) -> list[Any]:
        converted: Any = _number(new_value) if setting.startswith("alerts.") else new_value.strip()
        try:
            update_runtime_config(ctx.settings, {setting: converted}, known_recipes={r.id for r in store.list()})
        except RuntimeConfigError as error:
            return [f"⚠ {error}", gr.skip()]
        return [f"✓ {setting} = {new_value or '(removed)'}", settings_frame(ctx)]

    for trigger in (app.load, chosen.change, fmt.change):
        trigger(show, [chosen, fmt], [text, export, old, new, recipe_message])
    import_button.click(import_recipe, [text, fmt], [recipe_message, recipes, chosen])
    compare.click(compare_versions, [chosen, old, new], [diff])
    save.click(save_setting, [name, value], [settings_message, table])


def _number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text

