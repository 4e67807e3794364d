"""Stream assets: events and pattern events by source × hour (Parquet), a daily summary, the feedback.

The API's stream engine spools events and patterns as they arrive; the streams sensor materializes
each closed hour (and each closed day's summary). The assets only call :mod:`labflow.streams.tables`.
"""

import dagster as dg

from lab_assets.partitions import stream_day_partitions, stream_hour_partitions
from labflow.ops.run_kinds import BACKGROUND
from labflow.store.outputs import open_output_store
from labflow.streams.feedback import FeedbackBook
from labflow.streams.store import StreamStore
from labflow.streams.tables import (EVENTS_ASSET, FEEDBACK_ASSET, PATTERNS_ASSET, SUMMARY_ASSET, daily_summary,
                                    events_table, feedback_table, output_key, patterns_table, spool_hour)
from resources import LabStorageResource

STREAMS_GROUP = "streams"


def _source_hour(context: dg.AssetExecutionContext) -> tuple[str, str]:
    keys = context.partition_key.keys_by_dimension  # type: ignore[attr-defined]
    return keys["source"], spool_hour(keys["hour"])


@dg.asset(name=EVENTS_ASSET, partitions_def=stream_hour_partitions, group_name=STREAMS_GROUP, kinds={"parquet"},
          description="The events a source sent in one hour (UTC), de-duplicated, with each event's anomaly "
          "score as it was scored online.")
def stream_events(context: dg.AssetExecutionContext, lab: LabStorageResource) -> dg.MaterializeResult:
    """Write the spooled events of this source-hour as Parquet."""
    settings = lab.settings()
    source, hour = _source_hour(context)
    frame = events_table(StreamStore(settings.streams), source, hour)
    path = open_output_store(settings).write_frame(EVENTS_ASSET, output_key(source, hour), frame)
    return dg.MaterializeResult(metadata={"events": frame.height, "path": str(path)})


@dg.asset(name=PATTERNS_ASSET, partitions_def=stream_hour_partitions, group_name=STREAMS_GROUP, kinds={"parquet"},
          description="Pattern events (drift, anomaly, cluster_change) found in one source-hour.")
def stream_patterns(context: dg.AssetExecutionContext, lab: LabStorageResource) -> dg.MaterializeResult:
    """Write the pattern events of this source-hour as Parquet."""
    settings = lab.settings()
    source, hour = _source_hour(context)
    frame = patterns_table(StreamStore(settings.streams), source, hour)
    path = open_output_store(settings).write_frame(PATTERNS_ASSET, output_key(source, hour), frame)
    counts = {kind: int(n) for kind, n in frame["type"].value_counts().iter_rows()} if frame.height else {}
    return dg.MaterializeResult(metadata={"patterns": frame.height, **{f"n_{k}": v for k, v in counts.items()},
                                          "path": str(path)})


@dg.asset(name=SUMMARY_ASSET, partitions_def=stream_day_partitions, group_name=STREAMS_GROUP, kinds={"parquet"},
          description="Per source and UTC day: events, anomalies, drifts, cluster changes, anomaly scores.")
def stream_daily_summary(context: dg.AssetExecutionContext, lab: LabStorageResource) -> dg.MaterializeResult:
    """Summarise one day of every source."""
    settings = lab.settings()
    frame = daily_summary(StreamStore(settings.streams), context.partition_key)
    path = open_output_store(settings).write_frame(SUMMARY_ASSET, context.partition_key, frame)
    return dg.MaterializeResult(metadata={"sources": frame.height, "events": int(frame["events"].sum()),
                                          "path": str(path)})


@dg.asset(name=FEEDBACK_ASSET, group_name=STREAMS_GROUP, kinds={"parquet"},
          description="People's verdicts (true/false positive + note) on pattern events, and how each moved "
          "its source's strictness.")
def stream_feedback(lab: LabStorageResource) -> dg.MaterializeResult:
    """Collect every feedback record."""
    settings = lab.settings()
    frame = feedback_table(FeedbackBook(settings.streams / "feedback"))
    path = open_output_store(settings).write_frame(FEEDBACK_ASSET, "all", frame)
    return dg.MaterializeResult(metadata={"records": frame.height, "path": str(path)})


stream_assets = [stream_events, stream_patterns, stream_daily_summary, stream_feedback]

# One job per partitioning: a sensor's implicit asset job must have a single partitions definition.
# Background work (labflow.ops.run_kinds): at most one run slot, after arriving files.
stream_hour_job = dg.define_asset_job("stream_hour_job", selection=[stream_events, stream_patterns],
                                      partitions_def=stream_hour_partitions, tags=BACKGROUND)
stream_summary_job = dg.define_asset_job("stream_summary_job", selection=[stream_daily_summary],
                                         partitions_def=stream_day_partitions, tags=BACKGROUND)
stream_feedback_job = dg.define_asset_job("stream_feedback_job", selection=[stream_feedback], tags=BACKGROUND)
