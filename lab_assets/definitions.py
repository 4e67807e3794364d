"""The one ``Definitions`` object of the labflow code location."""

import dagster as dg

from lab_assets.etl import run_etl
from lab_assets.review import annotations, confirmed_dataset
from labflow.settings import Settings
from resources import build_resources
from sensors.alerts import build_alert_sensors
from sensors.confirmations import build_confirmations_sensor, build_review_automation_sensor
from sensors.inbox import build_inbox_sensor

settings = Settings.from_env()

defs = dg.Definitions(
    assets=[run_etl, annotations, confirmed_dataset],
    sensors=[build_inbox_sensor(settings), build_confirmations_sensor(settings),
             build_review_automation_sensor(settings), *build_alert_sensors()],
    resources=build_resources(settings),
    # Each run processes a batch of files in one process: no per-step subprocess cost.
    executor=dg.in_process_executor,
)
