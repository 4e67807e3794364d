"""What every part of the app needs, built once per app: catalog, review store, recipes, outputs, Dagster."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from labflow.devserver import prepare_dagster_home
from labflow.store.catalog import Catalog, RunRecord
from labflow.processing.pipeline import RunProcessor
from labflow.processing.recipe_store import recipe_sources, recipes_in_effect
from labflow.processing.recipes import Recipe
from labflow.review.store import ReviewStore
from labflow.settings import Settings
from labflow.store.outputs import OutputStore
from lab_assets.gateway import DagsterGateway
from ui.run_data import SeriesCache


def default_gateway(settings: Settings) -> DagsterGateway:
    """The Dagster instance of ``DAGSTER_HOME`` (set by the launcher), else the data directory's own."""
    import dagster as dg

    if os.environ.get("DAGSTER_HOME"):
        instance = dg.DagsterInstance.get()
    else:
        instance = dg.DagsterInstance.from_config(str(prepare_dagster_home(settings)))
    return DagsterGateway(instance, webserver_url=settings.dagster_url)


@dataclass
class AppContext:
    """The app's connections to the lab's data; shared by every browser session and every tab.

    The recipes are read again when their files or ``config.yaml`` change (an import in the Recipes tab,
    a new default recipe), so previews and objectives use what new runs use, without a restart.
    """

    settings: Settings
    catalog: Catalog
    store: ReviewStore
    gateway: DagsterGateway
    series: SeriesCache
    downloads_dir: Path
    _processor: RunProcessor
    _recipes_seen: tuple = field(default=())

    @classmethod
    def create(cls, settings: Settings, gateway: DagsterGateway | None = None) -> "AppContext":
        """Open everything once; ``gateway`` defaults to :func:`default_gateway`."""
        catalog = Catalog.from_settings(settings)
        seen = recipe_sources(settings)
        processor = RunProcessor(settings, catalog, recipes_in_effect(settings))
        downloads = settings.home / "ui_downloads"
        downloads.mkdir(parents=True, exist_ok=True)
        return cls(settings, catalog, ReviewStore(catalog), gateway or default_gateway(settings),
                   SeriesCache(processor.outputs), downloads, processor, seen)

    @property
    def processor(self) -> RunProcessor:
        """The run processor, its recipes as they are on disk now."""
        seen = recipe_sources(self.settings)
        if seen != self._recipes_seen:
            self._processor.recipes = recipes_in_effect(self.settings)
            self._recipes_seen = seen
        return self._processor

    @property
    def outputs(self) -> OutputStore:
        return self._processor.outputs

    def recipe_for(self, run: RunRecord) -> Recipe:
        """The recipe that processed the run (its own id, else by instrument)."""
        return self.processor.recipe_for(run)
