"""Request and response models of the labelling-loop endpoints (iterations, metrics, next windows)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from labflow.loop.iterations import STATES


class IterationIn(BaseModel):
    """A new iteration: who starts it and its settings (missing ones come from the previous iteration)."""

    actor: str = Field("api", min_length=1, max_length=200, description="Who creates it (recorded).")
    config: dict[str, Any] = Field(default_factory=dict, description="window, step, holdout_runs, inference_runs, "
                                   "channel, continue_from_previous, threshold, label_budget, start_after_labels, "
                                   "target_f1")
    note: str = Field("", max_length=2000)


class TransitionIn(BaseModel):
    """Move an iteration to another state."""

    to: str = Field(description=f"One of {', '.join(STATES)}")
    actor: str = Field("api", min_length=1, max_length=200)
    note: str = Field("", max_length=2000)


class TransitionOut(BaseModel):
    from_state: str
    to_state: str
    actor: str
    at: datetime
    note: str


class IterationOut(BaseModel):
    """An iteration: state, the states it may move to, settings, metrics, history."""

    number: int
    key: str = Field(description="Its partition key in the asset graph (iteration-<n>).")
    state: str
    allowed: list[str]
    created_by: str
    created_at: datetime
    updated_at: datetime
    config: dict[str, Any]
    metrics: dict[str, Any]
    history: list[TransitionOut] = Field(default_factory=list)


class IterationMetricsRow(BaseModel):
    """One iteration's precision/recall/F1 (point and event level) and labels spent."""

    iteration: int
    state: str
    event_precision: float | None = None
    event_recall: float | None = None
    event_f1: float | None = None
    point_precision: float | None = None
    point_recall: float | None = None
    point_f1: float | None = None
    labels_spent: int | None = None
    labelled_runs: int | None = None


class WindowToLabel(BaseModel):
    """A window worth labelling next: where it is, the model's probability and its uncertainty."""

    rank: int
    run_key: str
    window_id: str
    start_s: float
    end_s: float
    p_anomaly: float
    uncertainty: float
    iteration: int


class IterationRunOut(BaseModel):
    """A requested materialization of an iteration's loop assets."""

    run_id: str
    partition: str
    assets: list[str]
