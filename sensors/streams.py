"""The streams sensor: every closed hour of spooled events becomes a ``stream_events`` + ``stream_patterns``
run (source × hour), every closed day a ``stream_daily_summary`` run, new feedback a ``stream_feedback``
run; it also applies the spool's retention. State lives only in the cursor."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import dagster as dg

from lab_assets.partitions import STREAM_HOURS_START, stream_sources_partitions
from lab_assets.streams import stream_feedback_job, stream_hour_job, stream_summary_job
from labflow.settings import Settings
from labflow.streams.store import StreamStore
from labflow.streams.tables import partition_hour
from resources import LabStorageResource

MAX_REQUESTS_PER_TICK = 100
FIRST_HOUR = datetime.strptime(STREAM_HOURS_START, "%Y-%m-%d-%H:%M").strftime("%Y-%m-%dT%H")


def build_streams_sensor(settings: Settings) -> dg.SensorDefinition:
    """The streams sensor, on by default, ticking every ``LABFLOW_SENSOR_INTERVAL`` seconds."""

    @dg.sensor(
        name="streams_sensor",
        jobs=[stream_hour_job, stream_summary_job, stream_feedback_job],
        minimum_interval_seconds=max(settings.sensor_interval, 30),
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Materializes closed hours of spooled stream events and pattern events (source × hour), "
        "closed days' summaries and new feedback; prunes the spool past its retention.",
    )
    def streams_sensor(context: dg.SensorEvaluationContext, lab: LabStorageResource) -> dg.SensorResult:
        lab_settings = lab.settings()
        return plan_stream_runs(context, StreamStore(lab_settings.streams), datetime.now(timezone.utc),
                                raw_days=settings.stream_raw_days, pattern_days=settings.stream_pattern_days)

    return streams_sensor


def plan_stream_runs(context: dg.SensorEvaluationContext, store: StreamStore, now: datetime, *,
                     raw_days: int = 7, pattern_days: int = 30) -> dg.SensorResult:
    """The run requests for what closed (or grew) since the cursor; prunes the spool first."""
    pruned = store.prune(now, raw_days=raw_days, pattern_days=pattern_days)
    if pruned:
        context.log.info(f"removed {pruned} spooled hour(s) past their retention")
    cursor = json.loads(context.cursor) if context.cursor else {"hours": {}, "days": [], "feedback": 0}
    requests, new_sources = [], []
    known = set(context.instance.get_dynamic_partitions(stream_sources_partitions.name))
    for source, hour in store.closed_hours(now):
        size = store.size("events", source, hour) + store.size("patterns", source, hour)
        key = f"{source}|{hour}"
        if hour < FIRST_HOUR or cursor["hours"].get(key) == size or len(requests) >= MAX_REQUESTS_PER_TICK:
            continue
        if source not in known:
            known.add(source)
            new_sources.append(source)
        requests.append(dg.RunRequest(
            run_key=f"stream|{key}|{size}", job_name=stream_hour_job.name,
            partition_key=dg.MultiPartitionKey({"source": source, "hour": partition_hour(hour)}),
            tags={"labflow/source": "streams"}))
        cursor["hours"][key] = size
    today = now.strftime("%Y-%m-%d")
    days = sorted({hour[:10] for _, hour in store.closed_hours(now) if hour >= FIRST_HOUR} - set(cursor["days"]))
    for day in days:
        if day < today:
            requests.append(dg.RunRequest(run_key=f"stream_summary|{day}", job_name=stream_summary_job.name,
                                          partition_key=day))
            cursor["days"].append(day)
    feedback = store.feedback_version()
    if feedback != cursor["feedback"]:
        requests.append(dg.RunRequest(run_key=f"stream_feedback|{feedback}", job_name=stream_feedback_job.name))
        cursor["feedback"] = feedback
    oldest = (now - timedelta(days=max(raw_days, pattern_days) + 1)).strftime("%Y-%m-%dT%H")
    cursor["hours"] = {k: v for k, v in cursor["hours"].items() if k.split("|")[1] >= oldest}
    cursor["days"] = [d for d in cursor["days"] if d >= oldest[:10]]
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[stream_sources_partitions.build_add_request(new_sources)] if new_sources else [],
        cursor=json.dumps(cursor),
    )
