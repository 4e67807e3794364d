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

    reader: str | None = Field(None, description="Reader to use (see `labflow readers`); None = the surest.")
    time_column: str | None = Field(None, description="Name of the axis column; None = the reader decides.")
    block: str | None = Field(None, description="Block of a multi-block file; None = the main (first) block.")
    channels: list[str] | None = Field(None, description="Value channels to keep; None = the measured ones.")
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
    method: Literal["generic", "qrs", "spectrum"] = Field(
        "generic", description="'generic': thresholds from the signal's noise; 'qrs': R peaks of an ECG lead; "
        "'spectrum': spectroscopy baseline, peaks on the x axis with FWHM, area and bounds.")
    source: Literal["cleaned", "raw"] = "cleaned"
    mode: Literal["auto", "all", "dominant"] = "auto"
    min_height: float | None = None
    min_prominence: float | None = Field(None, gt=0)
    min_distance_s: float | None = Field(None, gt=0)
    min_width_s: float | None = Field(None, gt=0)
    noise_factor: float = Field(5.0, gt=0, description="Prominence floor in units of the noise level.")
    baseline: Literal["none", "snip", "arpls", "asls", "morphological"] = Field(
        "snip", description="Method 'spectrum': the baseline under the peaks.")
    baseline_window: int | None = Field(
        None, ge=3, description="Method 'spectrum': baseline half-window (samples); None = 3 x the widest peaks.")
    min_area_fraction: float = Field(
        0.0, ge=0, lt=1, description="Method 'spectrum': drop peaks with less area than this share of the largest.")
    polarity: Literal["up", "down", "auto"] = Field(
        "up", description="Method 'spectrum': 'down' finds dips (transmittance); 'auto' decides from the trace.")
    fit: Literal["none", "gaussian", "lorentzian", "pseudo_voigt"] = Field(
        "none", description="Method 'spectrum': fit overlapping peaks with this shape.")
    counting: bool = Field(
        False, description="Method 'spectrum': the signal is Poisson counts (gamma, X-ray): a line is judged by the "
        "significance of its net counts at the detector's resolution, past the discriminator edge.")

    @model_validator(mode="after")
    def _counts_are_raw(self) -> "PeakParams":
        if self.counting and self.source != "raw":
            raise ValueError("peaks.counting needs peaks.source 'raw': smoothed counts are no longer Poisson counts")
        return self

    def spectrum_options(self) -> dict[str, Any]:
        """Keyword arguments of :func:`labflow.processing.spectra.analyze_spectrum` for these params."""
        return {"baseline": self.baseline, "baseline_window": self.baseline_window, "min_snr": self.noise_factor,
                "min_area_fraction": self.min_area_fraction, "polarity": self.polarity,
                "fit": None if self.fit == "none" else self.fit, "counting_lines": self.counting}


class QualityParams(_Strict):
    """Thresholds of the quality report."""

    min_score: float = Field(0.5, ge=0, le=1, description="Asset check fails below this score.")
    max_missing_ratio: float = Field(0.05, ge=0, le=1)
    min_snr_db: float = 10.0
    gap_factor: float = Field(1.5, gt=1, description="A step longer than this x the median step and x the "
                                                     "steps around it is a gap.")
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
    axis_kinds: list[str] = Field(
        default_factory=list, description="x-axis kinds (raman_shift, energy, ...) that use it when no instrument does.")
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

    def for_run(self, *, instrument: str | None, requested: str | None = None,
                axis_kind: str | None = None) -> Recipe:
        """Pick a run's recipe: an explicit request, else the instrument's, else the axis kind's, else the default."""
        if requested:
            return self.get(requested)
        if instrument and instrument in self.defaults and self.defaults[instrument] in self._recipes:
            return self._recipes[self.defaults[instrument]]
        if instrument:
            for recipe in self._recipes.values():
                if instrument in recipe.instruments:
                    return recipe
        if axis_kind:
            for recipe_id in sorted(self._recipes):
                if axis_kind in self._recipes[recipe_id].axis_kinds:
                    return self._recipes[recipe_id]
        return self._recipes[DEFAULT_RECIPE_ID]

    @property
    def ids(self) -> list[str]:
        return sorted(self._recipes)
