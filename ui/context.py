"""What every part of the app needs, built once per app: catalog, review store, recipes, outputs, Dagster."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from labflow.store.catalog import Catalog, RunRecord
from labflow.processing.pipeline import RunProcessor
from labflow.processing.recipe_store import recipes_in_effect
from labflow.processing.recipes import Recipe
from labflow.review.store import ReviewStore
from labflow.settings import Settings
from labflow.store.outputs import OutputStore
from lab_assets.gateway import DagsterGateway
from ui.run_data import SeriesCache


@dataclass
class AppContext:
    """The app's connections to the lab's data; shared by every browser session."""

    settings: Settings
    catalog: Catalog
    store: ReviewStore
    processor: RunProcessor
    gateway: DagsterGateway
    series: SeriesCache
    downloads_dir: Path

    @classmethod
    def create(cls, settings: Settings, gateway: DagsterGateway) -> "AppContext":
        catalog = Catalog.from_settings(settings)
        processor = RunProcessor(settings, catalog, recipes_in_effect(settings))
        downloads = settings.home / "ui_downloads"
        downloads.mkdir(parents=True, exist_ok=True)
        return cls(settings, catalog, ReviewStore(catalog), processor, gateway,
                   SeriesCache(processor.outputs), downloads)

    @property
    def outputs(self) -> OutputStore:
        return self.processor.outputs

    def recipe_for(self, run: RunRecord) -> Recipe:
        """The recipe that processed the run (its own id, else by instrument)."""
        return self.processor.recipe_for(run)
