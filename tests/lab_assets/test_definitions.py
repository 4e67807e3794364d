"""The one code location loads as Dagster would load it (webserver, daemon, code server)."""

from __future__ import annotations

import dagster as dg


def test_the_code_location_loads_with_every_job_resolvable() -> None:
    from lab_assets.definitions import defs

    dg.Definitions.validate_loadable(defs)  # resolves every sensor's job, as the code server does
    sensors = {sensor.name: sensor for sensor in defs.sensors}
    for name in ("inbox_sensor", "confirmations_sensor", "streams_sensor", "loop_sensor"):
        assert sensors[name].default_status == dg.DefaultSensorStatus.RUNNING, name
    jobs = {job.name for job in defs.resolve_all_job_defs()}
    assert {"stream_hour_job", "stream_summary_job", "stream_feedback_job"} <= jobs
