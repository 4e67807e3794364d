"""The lab's data directory (inbox, objects, quarantine, storage) and recipes as a resource."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from labflow.processing.recipe_store import recipes_in_effect
from labflow.processing.recipes import RecipeBook
from labflow.settings import Settings
from resources.catalog import CatalogResource


class LabStorageResource(dg.ConfigurableResource):
    """Paths under ``LABFLOW_HOME``, the recipes folder and where raw copies and outputs live (disk or S3)."""

    home: str
    database_url: str
    recipes_dir: str
    etl_mode: str = "eager"
    forward_dirs: str = ""
    object_store: str = ""
    s3_endpoint_url: str = ""

    def settings(self) -> Settings:
        """These values as a :class:`labflow.settings.Settings`."""
        return Settings(home=Path(self.home), database_url=self.database_url,
                        recipes_dir=Path(self.recipes_dir), etl_mode=self.etl_mode,  # type: ignore[arg-type]
                        forward_dirs=tuple(Path(p) for p in self.forward_dirs.split(",") if p),
                        object_store=self.object_store or None, s3_endpoint_url=self.s3_endpoint_url or None)

    def recipes(self) -> RecipeBook:
        """Shipped and imported recipes with the per-instrument defaults, read fresh for every run."""
        return recipes_in_effect(self.settings())


def _env_or(name: str, value: str) -> str | dg.EnvVar:
    """Show ``EnvVar(name)`` in the UI when the value comes from the environment (hides secrets)."""
    return dg.EnvVar(name) if os.environ.get(name) else value


def build_resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    """The resources of the code location, configured from the environment in one place."""
    database_url = _env_or("LABFLOW_DATABASE_URL", settings.database_url)
    resources: dict[str, dg.ConfigurableResource] = {
        "catalog": CatalogResource(database_url=database_url),
        "lab": LabStorageResource(
            home=str(settings.home), database_url=database_url,
            recipes_dir=str(settings.recipes_dir), etl_mode=settings.etl_mode,
            forward_dirs=",".join(str(p) for p in settings.forward_dirs),
            object_store=settings.object_store or "", s3_endpoint_url=settings.s3_endpoint_url or "",
        ),
    }
    if settings.s3_sources:  # dagster-aws/boto3 cost ~1.5 s of imports: only when S3 is watched
        from resources.s3 import build_s3_resource

        resources["s3"] = build_s3_resource()
    return resources
