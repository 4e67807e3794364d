"""Recipes as templates: list, import and export (YAML/JSON), validate, version by content hash, diff.

Shipped recipes live in ``LABFLOW_RECIPES_DIR`` (read-only here); recipes people import live in
``$LABFLOW_HOME/recipes/`` and replace a shipped recipe with the same id. Every version ever seen
is kept as ``$LABFLOW_HOME/recipes/.history/<id>/<content hash>.yaml``, so any two can be compared
and a run's ``recipe_hash`` always points at readable parameters.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import yaml

from labflow.store.atomic import write_atomic
from labflow.processing.recipes import Recipe, RecipeBook, RecipeError, load_recipe_dir, validate_recipe
from labflow.settings import Settings

Format = Literal["yaml", "json"]


@dataclass(frozen=True)
class RecipeInfo:
    """One recipe as listed: where it comes from and its version."""

    id: str
    version: int
    content_hash: str
    source: Literal["shipped", "imported"]
    instruments: list[str]
    description: str


@dataclass(frozen=True)
class RecipeVersion:
    """One stored version of a recipe."""

    content_hash: str
    version: int
    saved_at: datetime


class RecipeStore:
    """Shipped and imported recipes with their version history."""

    def __init__(self, shipped_dir: Path, home: Path):
        self.shipped_dir = shipped_dir
        self.user_dir = home / "recipes"
        self.history_dir = self.user_dir / ".history"

    def book(self, defaults: dict[str, str] | None = None) -> RecipeBook:
        """The recipes in effect (imported ones replace shipped ones with the same id)."""
        return RecipeBook.from_dir(self.shipped_dir, self.user_dir, defaults=defaults)

    def list(self) -> list[RecipeInfo]:
        """Every recipe in effect, by id; each version is also recorded in the history."""
        shipped, imported = load_recipe_dir(self.shipped_dir), load_recipe_dir(self.user_dir)
        result = []
        for recipe_id, recipe in sorted({**shipped, **imported}.items()):
            self._remember(recipe)
            result.append(RecipeInfo(recipe.id, recipe.version, recipe.content_hash,
                                     "imported" if recipe_id in imported else "shipped",
                                     list(recipe.instruments), recipe.description))
        return result

    def get(self, recipe_id: str) -> Recipe:
        return self.book().get(recipe_id)

    def import_text(self, text: str, fmt: Format = "yaml") -> Recipe:
        """Validate a recipe given as YAML or JSON text and make it the one in effect for its id.

        Raises :class:`RecipeError` naming every bad field; nothing is written then.
        """
        recipe = validate_recipe(_parse(text, fmt), source=f"({fmt} upload)")
        self.list()  # record the version being replaced first
        write_atomic(self.user_dir / f"{recipe.id}.yaml", to_yaml(recipe).encode())
        self._remember(recipe)
        return recipe

    def export(self, recipe_id: str, fmt: Format = "yaml") -> str:
        """The recipe in effect as YAML or JSON text (importable again unchanged)."""
        recipe = self.get(recipe_id)
        return to_yaml(recipe) if fmt == "yaml" else json.dumps(recipe.model_dump(mode="json"), indent=2)

    def versions(self, recipe_id: str) -> list[RecipeVersion]:
        """Every recorded version of a recipe, oldest first."""
        self.list()  # make sure the versions in effect are recorded
        folder = self.history_dir / recipe_id
        found = []
        for path in folder.glob("*.yaml") if folder.is_dir() else []:
            recipe = validate_recipe(yaml.safe_load(path.read_text()), source=str(path))
            found.append(RecipeVersion(path.stem, recipe.version,
                                       datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)))
        return sorted(found, key=lambda v: (v.saved_at, v.content_hash))

    def version_text(self, recipe_id: str, content_hash: str) -> str:
        """The YAML of one recorded version."""
        path = self.history_dir / recipe_id / f"{content_hash}.yaml"
        if not path.is_file():
            raise RecipeError(f"recipe {recipe_id!r} has no recorded version {content_hash!r}")
        return path.read_text()

    def diff(self, recipe_id: str, old_hash: str, new_hash: str) -> str:
        """A unified diff between two recorded versions of a recipe (empty when they are equal)."""
        old, new = self.version_text(recipe_id, old_hash), self.version_text(recipe_id, new_hash)
        return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                            fromfile=f"{recipe_id}@{old_hash}", tofile=f"{recipe_id}@{new_hash}"))

    def _remember(self, recipe: Recipe) -> None:
        path = self.history_dir / recipe.id / f"{recipe.content_hash}.yaml"
        if not path.exists():
            write_atomic(path, to_yaml(recipe).encode())


def recipes_in_effect(settings: Settings) -> RecipeBook:
    """The lab's recipes: shipped and imported ones, with the per-instrument defaults of ``config.yaml``."""
    from labflow.runtime_config import load_runtime_config

    return RecipeStore(settings.recipes_dir, settings.home).book(load_runtime_config(settings).default_recipes)


def to_yaml(recipe: Recipe) -> str:
    """A recipe as readable YAML (sections in their natural order)."""
    return yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def _parse(text: str, fmt: Format) -> Any:
    try:
        if fmt == "json":
            return json.loads(text)
        if fmt == "yaml":
            return yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise RecipeError(f"the {fmt} text cannot be read: {error}") from None
    raise RecipeError(f"unknown recipe format {fmt!r}; use yaml or json")
