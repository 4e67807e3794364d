"""The one ``Definitions`` object of the labflow code location."""

import dagster as dg

from lab_assets.etl import run_etl
from lab_assets.forecasting import FORECASTING_ASSETS
from lab_assets.loop import LOOP_ASSETS
from lab_assets.review import annotations, confirmed_dataset
from lab_assets.streams import stream_assets
from labflow.settings import Settings
from resources import build_resources
from sensors.alerts import build_alert_sensors
from sensors.confirmations import build_confirmations_sensor, build_review_automation_sensor
from sensors.dead_runs import build_dead_run_sensor
from sensors.inbox import build_inbox_sensor
from sensors.loop import build_loop_sensor
from sensors.streams import build_streams_sensor


def build_sensors(settings: Settings) -> list[dg.SensorDefinition]:
    """Folder inbox, confirmations, review automation, alerts and the dead-run sweep; the S3 sensor when
    sources are set."""
    sensors = [build_inbox_sensor(settings), build_confirmations_sensor(settings),
               build_review_automation_sensor(settings), *build_alert_sensors(), build_streams_sensor(settings),
               build_loop_sensor(settings), build_dead_run_sensor(settings)]
    if settings.s3_sources:  # dagster-aws/boto3 imports only when S3 is watched
        from sensors.s3 import build_s3_sensor

        sensors.append(build_s3_sensor(settings))
    return sensors


settings = Settings.from_env()

defs = dg.Definitions(
    assets=[run_etl, annotations, confirmed_dataset, *LOOP_ASSETS, *FORECASTING_ASSETS, *stream_assets],
    sensors=build_sensors(settings),
    resources=build_resources(settings),
    # Each run processes a batch of files in one process: no per-step subprocess cost.
    executor=dg.in_process_executor,
)
