"""Reading Dagster's event log: what an asset-check evaluation record says.

Both the alert sensors (inside the code location) and the gateway (outside it, for the API and the app)
read check evaluations; this module imports nothing of either, so neither depends on the other.
"""

from __future__ import annotations

from typing import Any

import dagster as dg


def check_evaluation(record: dg.EventLogRecord) -> tuple[Any, str | None]:
    """The asset-check evaluation an event record carries (``None`` if it carries none) and its partition."""
    event = record.event_log_entry.dagster_event
    evaluation = event.event_specific_data if event is not None else None
    if evaluation is None or not hasattr(evaluation, "passed"):
        return None, None
    return evaluation, getattr(evaluation, "partition", None) or event.partition
