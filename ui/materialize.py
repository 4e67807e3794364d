"""Lazy mode: ask Dagster for a run's missing outputs when someone opens it, and follow that run."""

from __future__ import annotations

from dataclasses import dataclass

from labflow.store.catalog import RunRecord
from labflow.store.outputs import OutputStore
from lab_assets.gateway import DagsterGateway
from ui.run_data import missing_outputs


@dataclass(frozen=True)
class Progress:
    """Where a requested materialization stands; ``done`` stops the polling, ``ok`` says it succeeded."""

    run_id: str | None
    state: str
    message: str
    done: bool
    ok: bool = False


def request_missing(gateway: DagsterGateway, outputs: OutputStore, run: RunRecord) -> Progress | None:
    """Request the run's missing view outputs from Dagster; ``None`` when nothing is missing.

    A run that failed or is not parsed yet cannot be processed further: that is reported, not requested.
    """
    missing = missing_outputs(outputs, run.run_key)
    if not missing:
        return None
    if run.status == "failed":
        return Progress(None, "failed", f"Processing failed: {run.error or 'no error recorded'}", True)
    if not outputs.exists("raw_series", run.run_key):
        return Progress(None, run.status, f"The file is {run.status}: it has not been parsed yet. "
                        "Open it again once its status is 'parsed' or 'processed'.", True)
    run_id = gateway.request(missing, run.run_key, tags={"labflow/requested_by": "labelling-app"})
    return Progress(run_id, "requested", f"Materializing {', '.join(missing)} (Dagster run {run_id[:8]})…", False)


def poll(gateway: DagsterGateway, run_id: str, *, dagster_url: str | None = None) -> Progress:
    """The state of a requested run, as a message for the run view."""
    state = gateway.run_state(run_id)
    if state is None:
        return Progress(run_id, "unknown", f"Dagster does not know run {run_id[:8]} (yet)…", False)
    where = f" — see {dagster_url}/runs/{run_id}" if dagster_url else ""
    if state.state == "succeeded":
        return Progress(run_id, state.state, "Outputs materialized.", True, True)
    if state.state in ("failed", "canceled"):
        return Progress(run_id, state.state, f"Dagster run {run_id[:8]} {state.state}{where}.", True)
    return Progress(run_id, state.state, f"Dagster run {run_id[:8]} is {state.state}…", False)
