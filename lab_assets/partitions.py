"""Partitions, defined once and imported everywhere."""

import dagster as dg

RUNS_PARTITION = "runs"

runs_partitions = dg.DynamicPartitionsDefinition(name=RUNS_PARTITION)
"""One partition per ingested file; the key is ``<sanitised stem>-<10 hex of its SHA-256>``."""

ITERATIONS_PARTITION = "iterations"

iterations_partitions = dg.DynamicPartitionsDefinition(name=ITERATIONS_PARTITION)
"""One partition per iteration of the labelling loop; the key is ``iteration-<n>``."""

ENERGY_ASSETS_PARTITION = "energy_assets"

energy_assets_partitions = dg.DynamicPartitionsDefinition(name=ENERGY_ASSETS_PARTITION)
"""One partition per forecasted asset (production line, workshop, building); the key is the asset id."""

STREAM_SOURCES_PARTITION = "stream_sources"

stream_sources_partitions = dg.DynamicPartitionsDefinition(name=STREAM_SOURCES_PARTITION)
"""One partition per event source (``sources/<name>.yaml``); the key is the source name."""

STREAM_HOURS_START = "2024-01-01-00:00"

stream_hour_partitions = dg.MultiPartitionsDefinition({
    "source": stream_sources_partitions,
    "hour": dg.HourlyPartitionsDefinition(start_date=STREAM_HOURS_START, timezone="UTC"),
})
"""Events and pattern events by source × hour (UTC); hours before 2024 are kept in the spool only."""

stream_day_partitions = dg.DailyPartitionsDefinition(start_date=STREAM_HOURS_START[:10], timezone="UTC")
"""The daily stream summary, one partition per UTC day."""
