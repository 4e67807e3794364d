"""Partitions, defined once and imported everywhere."""

import dagster as dg

RUNS_PARTITION = "runs"

runs_partitions = dg.DynamicPartitionsDefinition(name=RUNS_PARTITION)
"""One partition per ingested file; the key is ``<sanitised stem>-<10 hex of its SHA-256>``."""
