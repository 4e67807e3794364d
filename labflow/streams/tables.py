"""The spool as tables (polars) for the stream assets: events and patterns of a source-hour, the daily
summary, the feedback; and the names of their partitions and outputs."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import polars as pl

from labflow.streams.feedback import FeedbackBook
from labflow.streams.store import HOUR_FORMAT, StreamStore, parse_hour

EVENTS_ASSET = "stream_events"
PATTERNS_ASSET = "stream_patterns"
SUMMARY_ASSET = "stream_daily_summary"
FEEDBACK_ASSET = "stream_feedback"
PARTITION_HOUR_FORMAT = "%Y-%m-%d-%H:%M"

PATTERN_SCHEMA = {"pattern_id": pl.String, "type": pl.String, "timestamp": pl.Datetime("us", "UTC"),
                  "source": pl.String, "event_id": pl.String, "confidence": pl.Float64, "details": pl.String,
                  "contributors": pl.String}
SUMMARY_SCHEMA = {"day": pl.String, "source": pl.String, "events": pl.Int64, "anomalies": pl.Int64,
                  "drifts": pl.Int64, "cluster_changes": pl.Int64, "mean_anomaly_score": pl.Float64,
                  "max_anomaly_score": pl.Float64}


def partition_hour(spool_hour: str) -> str:
    """``2024-05-01T13`` → the hourly partition key ``2024-05-01-13:00``."""
    return parse_hour(spool_hour).strftime(PARTITION_HOUR_FORMAT)


def spool_hour(partition: str) -> str:
    """The hourly partition key ``2024-05-01-13:00`` → the spool hour ``2024-05-01T13``."""
    return datetime.strptime(partition, PARTITION_HOUR_FORMAT).strftime(HOUR_FORMAT)


def output_key(source: str, hour: str) -> str:
    """The output name of a source-hour, e.g. ``demo-sensor__2024-05-01T13``."""
    return f"{source}__{hour}"


def events_table(store: StreamStore, source: str, hour: str) -> pl.DataFrame:
    """The spooled events of a source-hour, one row each, payload fields as columns, sorted by time."""
    frame = store.read_events(source, hour)
    if frame.height == 0:
        return pl.DataFrame(schema={"event_id": pl.String, "timestamp": pl.Datetime("us", "UTC")})
    return frame.unique("event_id", keep="first", maintain_order=True).sort("timestamp")


def patterns_table(store: StreamStore, source: str, hour: str) -> pl.DataFrame:
    """The pattern events of a source-hour; details and contributors as JSON text."""
    rows = [{"pattern_id": p["pattern_id"], "type": p["type"], "timestamp": datetime.fromisoformat(p["timestamp"]),
             "source": p["source"], "event_id": p.get("event_id"), "confidence": p["details"]["confidence"],
             "details": json.dumps(p["details"], default=str), "contributors": json.dumps(p["contributors"])}
            for p in store.read_patterns(source, [hour])]
    return pl.DataFrame(rows, schema=PATTERN_SCHEMA)


def daily_summary(store: StreamStore, day: str) -> pl.DataFrame:
    """Per source, for one UTC day (``YYYY-MM-DD``): events, pattern counts by type, anomaly scores."""
    start = datetime.strptime(day, "%Y-%m-%d")
    hours = [(start + timedelta(hours=h)).strftime(HOUR_FORMAT) for h in range(24)]
    rows = []
    for source in sorted(set(store.sources("events")) | set(store.sources("patterns"))):
        frames = [f for f in (store.read_events(source, h) for h in hours) if f.height]
        events = pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()
        patterns = store.read_patterns(source, hours)
        if events.height == 0 and not patterns:
            continue
        kinds = [p["type"] for p in patterns]
        scores = events["anomaly_score"] if "anomaly_score" in events.columns else pl.Series([], dtype=pl.Float64)
        rows.append({"day": day, "source": source, "events": events.height, "anomalies": kinds.count("anomaly"),
                     "drifts": kinds.count("drift"), "cluster_changes": kinds.count("cluster_change"),
                     "mean_anomaly_score": scores.mean() if len(scores) else None,
                     "max_anomaly_score": scores.max() if len(scores) else None})
    return pl.DataFrame(rows, schema=SUMMARY_SCHEMA)


def feedback_table(book: FeedbackBook) -> pl.DataFrame:
    """Every feedback record, oldest first."""
    schema = {"pattern_id": pl.String, "source": pl.String, "type": pl.String, "verdict": pl.String,
              "note": pl.String, "author": pl.String, "at": pl.String, "strictness_before": pl.Float64,
              "strictness_after": pl.Float64}
    return pl.DataFrame(book.records(), schema=schema)
