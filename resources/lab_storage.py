"""The lab's settings (data directory, recipes, object store, every ``LABFLOW_*`` value) as a resource."""

from __future__ import annotations

import os

import dagster as dg

from labflow.processing.recipe_store import recipes_in_effect
from labflow.processing.recipes import RecipeBook
from labflow.settings import Settings
from resources.catalog import CatalogResource


class LabStorageResource(dg.ConfigurableResource):
    """Every labflow setting as the code location read it, so a run sees the same values as the sensors,
    the API and the app (paths under ``LABFLOW_HOME``, recipes, where raw copies and outputs live, limits)."""

    database_url: str  # apart, so the UI shows EnvVar(LABFLOW_DATABASE_URL) instead of a password
    settings_json: str  # the rest of :class:`labflow.settings.Settings`, as JSON

    @classmethod
    def from_settings(cls, settings: Settings) -> "LabStorageResource":
        return cls(database_url=_env_or("LABFLOW_DATABASE_URL", settings.database_url),
                   settings_json=settings.model_dump_json(exclude={"database_url"}))

    def settings(self) -> Settings:
        """The whole :class:`labflow.settings.Settings`."""
        return Settings.from_json(self.settings_json, database_url=self.database_url)

    def recipes(self) -> RecipeBook:
        """Shipped and imported recipes with the per-instrument defaults, read fresh for every run."""
        return recipes_in_effect(self.settings())


def _env_or(name: str, value: str) -> str | dg.EnvVar:
    """Show ``EnvVar(name)`` in the UI when the value comes from the environment (hides secrets)."""
    return dg.EnvVar(name) if os.environ.get(name) else value


def build_resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    """The resources of the code location, configured from the environment in one place."""
    resources: dict[str, dg.ConfigurableResource] = {
        "catalog": CatalogResource(database_url=_env_or("LABFLOW_DATABASE_URL", settings.database_url)),
        "lab": LabStorageResource.from_settings(settings),
    }
    if settings.s3_sources:  # dagster-aws/boto3 cost ~1.5 s of imports: only when S3 is watched
        from resources.s3 import build_s3_resource

        resources["s3"] = build_s3_resource(settings)
    return resources
