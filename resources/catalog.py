"""The catalog database as a Dagster resource (one SQLAlchemy engine per process and URL)."""

from __future__ import annotations

from functools import lru_cache

import dagster as dg

from labflow.store.catalog import Catalog


@lru_cache(maxsize=4)
def _catalog(url: str) -> Catalog:
    return Catalog(url)


class CatalogResource(dg.ConfigurableResource):
    """Where runs and their metadata are recorded (SQLite file or Postgres URL)."""

    database_url: str

    def get_catalog(self) -> Catalog:
        """The process-wide :class:`Catalog` for this URL."""
        return _catalog(self.database_url)
