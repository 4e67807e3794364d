"""Configurable Dagster resources: the catalog database and the lab's data directory."""

from resources.catalog import CatalogResource
from resources.lab_storage import LabStorageResource, build_resources

__all__ = ["CatalogResource", "LabStorageResource", "build_resources"]
