"""Processing recipes: versioned YAML files with the parameters of every ETL step.

A recipe is validated with Pydantic; a bad field is reported by its dotted path. Each recipe is
identified by its ``id`` and the SHA-256 of its canonical JSON form (``content_hash``), which goes
into every materialization it produced.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DEFAULT_RECIPE_ID = "default"


class RecipeError(ValueError):
    """A recipe file is missing, unreadable or invalid."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ParseParams(_Strict):
    """How to read an instrument file."""

    time_column: str | None = Field(None, description="Name of the time column; None = detect.")
    channels: list[str] | None = Field(None, description="Value channels to keep; None = all numeric.")
    unsorted_time: Literal["sort", "reject"] = "sort"


class SmoothingParams(_Strict):
    """Rolling-mean smoothing and optional baseline removal."""

    window: int = Field(5, ge=1, le=100_001, description="Rolling-mean window in samples.")
    centered: bool = True
    baseline: Literal["none", "linear", "rolling_min"] = "none"
    baseline_window: int = Field(501, ge=3, description="Window (samples) of the rolling-min baseline.")


class PeakParams(_Strict):
    """Peak detection; every threshold left empty is chosen from the signal."""

    channel: str | None = Field(None, description="Channel to search; None = first value channel.")
    source: Literal["cleaned", "raw"] = "cleaned"
    mode: Literal["auto", "all", "dominant"] = "auto"
    min_height: float | None = None
    min_prominence: float | None = Field(None, gt=0)
    min_distance_s: float | None = Field(None, gt=0)
    min_width_s: float | None = Field(None, gt=0)
    noise_factor: float = Field(5.0, gt=0, description="Prominence floor in units of the noise level.")


class QualityParams(_Strict):
    """Thresholds of the quality report."""

    min_score: float = Field(0.5, ge=0, le=1, description="Asset check fails below this score.")
    max_missing_ratio: float = Field(0.05, ge=0, le=1)
    min_snr_db: float = 10.0
    gap_factor: float = Field(1.5, gt=1, description="A step longer than this x median step is a gap.")
    flatline_min_samples: int = Field(10, ge=2)
    clipping_min_samples: int = Field(3, ge=2)


class ObjectiveParams(_Strict):
    """How a run's objective value is extracted (used by the confirmed dataset)."""

    kind: Literal["main_peak_height", "main_peak_area", "peak_near", "plateau_mean"] = "main_peak_height"
    position_s: float | None = None
    window_s: float | None = Field(None, gt=0)

    @property
    def needs_peaks(self) -> bool:
        """Whether the objective is measured on peaks (a plateau mean is not: finding none is no problem)."""
        return self.kind != "plateau_mean"

    @model_validator(mode="after")
    def _position_needed(self) -> "ObjectiveParams":
        if self.kind == "peak_near" and self.position_s is None:
            raise ValueError("objective.kind 'peak_near' needs objective.position_s")
        return self


class Recipe(_Strict):
    """A complete, validated processing recipe."""

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    version: int = Field(1, ge=1)
    description: str = ""
    instruments: list[str] = Field(default_factory=list, description="Instruments that use it by default.")
    parse: ParseParams = ParseParams()
    smoothing: SmoothingParams = SmoothingParams()
    peaks: PeakParams = PeakParams()
    quality: QualityParams = QualityParams()
    objective: ObjectiveParams = ObjectiveParams()

    @property
    def content_hash(self) -> str:
        """SHA-256 (first 16 hex digits) of the recipe's canonical JSON."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def with_overrides(self, overrides: Mapping[str, Any]) -> "Recipe":
        """Return a copy with dotted-path overrides applied, e.g. ``{"smoothing.window": 21}``."""
        data = self.model_dump(mode="json")
        for dotted, value in overrides.items():
            if value is None:
                continue
            section, _, field = dotted.partition(".")
            if not field or section not in data or not isinstance(data[section], dict):
                raise RecipeError(f"unknown recipe parameter {dotted!r}")
            data[section][field] = value
        return validate_recipe(data, source="overrides")


def _describe(error: ValidationError, source: str) -> str:
    lines = [f"recipe {source} is invalid:"]
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"  - {where}: {item['msg']}")
    return "\n".join(lines)


def validate_recipe(data: Any, *, source: str = "<memory>") -> Recipe:
    """Validate a mapping as a recipe; raise :class:`RecipeError` naming each bad field."""
    if not isinstance(data, Mapping):
        raise RecipeError(f"recipe {source} must be a mapping of sections, got {type(data).__name__}")
    try:
        return Recipe.model_validate(dict(data))
    except ValidationError as error:
        raise RecipeError(_describe(error, source)) from None


def load_recipe_file(path: Path) -> Recipe:
    """Read and validate one YAML recipe file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise RecipeError(f"cannot read recipe {path}: {error}") from None
    return validate_recipe(data, source=str(path))


def load_recipe_dir(folder: Path) -> dict[str, Recipe]:
    """Every recipe file of one folder by id; an id defined twice is an error."""
    recipes: dict[str, Recipe] = {}
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]) if folder.is_dir() else []:
        recipe = load_recipe_file(path)
        if recipe.id in recipes:
            raise RecipeError(f"recipe id {recipe.id!r} is defined twice (second in {path})")
        recipes[recipe.id] = recipe
    return recipes


class RecipeBook:
    """All recipes of a folder, and the rule that picks one for a run."""

    def __init__(self, recipes: Mapping[str, Recipe], defaults: Mapping[str, str] | None = None):
        self._recipes = dict(recipes)
        if DEFAULT_RECIPE_ID not in self._recipes:
            self._recipes[DEFAULT_RECIPE_ID] = Recipe(id=DEFAULT_RECIPE_ID)
        self.defaults = dict(defaults or {})

    @classmethod
    def from_dir(cls, folder: Path, *overrides: Path, defaults: Mapping[str, str] | None = None) -> "RecipeBook":
        """Load every ``*.yaml``/``*.yml`` in ``folder``, then in each ``overrides`` folder (same id replaces).

        Duplicate ids within one folder are an error. ``defaults`` maps an instrument to the recipe
        it uses, before the recipes' own ``instruments`` lists.
        """
        recipes: dict[str, Recipe] = {}
        for directory in (folder, *overrides):
            recipes.update(load_recipe_dir(directory))
        return cls(recipes, defaults)

    def get(self, recipe_id: str) -> Recipe:
        """The recipe with this id, or a clear error listing the known ones."""
        try:
            return self._recipes[recipe_id]
        except KeyError:
            raise RecipeError(f"unknown recipe {recipe_id!r}; known: {', '.join(sorted(self._recipes))}") from None

    def for_run(self, *, instrument: str | None, requested: str | None = None) -> Recipe:
        """Pick a run's recipe: an explicit request, else the instrument's, else the default."""
        if requested:
            return self.get(requested)
        if instrument and instrument in self.defaults and self.defaults[instrument] in self._recipes:
            return self._recipes[self.defaults[instrument]]
        if instrument:
            for recipe in self._recipes.values():
                if instrument in recipe.instruments:
                    return recipe
        return self._recipes[DEFAULT_RECIPE_ID]

    @property
    def ids(self) -> list[str]:
        return sorted(self._recipes)
