"""The gateway refuses a Dagster webserver that serves another data directory's instance."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import dagster as dg
import pytest

from labflow.devserver import dagster_dev_command, prepare_dagster_home, process_env, stop_group
from labflow.settings import Settings
from lab_assets.gateway import DagsterGateway, WrongDagsterInstance
from tests.lab_fixtures import free_port, responds, wait_for

pytestmark = pytest.mark.e2e


def test_runs_go_only_to_the_webserver_of_the_same_instance(tmp_path: Path):
    ours, theirs = (Settings.from_env({"LABFLOW_HOME": str(tmp_path / name)}) for name in ("ours", "theirs"))
    prepare_dagster_home(ours)
    prepare_dagster_home(theirs)
    port = free_port()
    with (tmp_path / "dagster-dev.log").open("wb") as log:
        process = subprocess.Popen(dagster_dev_command(port), env=process_env(theirs, dict(os.environ)), stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: responds(f"{url}/server_info"), 120, "the Dagster webserver")
        with dg.DagsterInstance.from_config(str(ours.dagster_home)) as mine, \
                dg.DagsterInstance.from_config(str(theirs.dagster_home)) as other:
            with pytest.raises(WrongDagsterInstance, match="serves another instance"):
                DagsterGateway(mine, webserver_url=url).request(["raw_file"], "some-run")
            from_gateway = dg.RunsFilter(tags={"labflow/requested_by": "gateway"})
            assert other.get_runs_count(from_gateway) == 0 and mine.get_runs_count() == 0  # nothing submitted
            DagsterGateway(other, webserver_url=url)._check_same_instance()  # its own webserver is accepted
    finally:
        stop_group(process)
