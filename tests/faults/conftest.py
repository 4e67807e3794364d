"""Helpers for the fault suite: the real inbox sensor ticked like the daemon ticks it."""

from __future__ import annotations

import dagster as dg
import pytest

from labflow.settings import Settings
from sensors.inbox import build_inbox_sensor


class InboxDaemon:
    """Evaluates the inbox sensor like the daemon does: keeps the cursor, adds the partitions."""

    def __init__(self, settings: Settings, instance: dg.DagsterInstance, resources: dict):
        self.instance, self.resources = instance, resources
        self.sensor = build_inbox_sensor(settings)
        self.cursor: str | None = None

    def tick(self) -> dg.SensorResult:
        with dg.build_sensor_context(instance=self.instance, cursor=self.cursor, resources=self.resources) as context:
            result = self.sensor(context)
        for request in result.dynamic_partitions_requests or []:
            self.instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        self.cursor = result.cursor
        return result


@pytest.fixture
def inbox_daemon(lab_settings, instance, lab_resources) -> InboxDaemon:
    return InboxDaemon(lab_settings, instance, lab_resources)
