"""Iterations of the labelling loop as first-class objects in the catalog database, with a state machine.

    Created → Annotating → DataReady → Training → Trained → Inferring → Reviewing → Completed
                  ↑                                                         │
                  └──────────── (quality not reached yet) ──────────────────┘

Every transition is recorded (who, when, a note); an illegal one raises :class:`IllegalTransition`
naming the states allowed from where the iteration stands. The iteration's partition key in the asset
graph is ``iteration-<n>`` (:func:`partition_key`). Metrics and labels spent are recorded on the row
by the ``iteration_metrics`` asset, so the API and the app read them without Dagster.

Example::

    store = IterationStore(Catalog(settings.database_url))
    it = store.create("ana", config={"label_budget": 50})
    store.transition(it.number, "Annotating", "ana")
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, func, select, update
from sqlalchemy.orm import Mapped, mapped_column

from labflow.store.catalog import Base, Catalog, UTCDateTime, retry_on_conflict

STATES: tuple[str, ...] = ("Created", "Annotating", "DataReady", "Training", "Trained", "Inferring", "Reviewing",
                           "Completed")
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "Created": ("Annotating",),
    "Annotating": ("DataReady",),
    "DataReady": ("Training",),
    "Training": ("Trained",),
    "Trained": ("Inferring",),
    "Inferring": ("Reviewing",),
    "Reviewing": ("Completed", "Annotating"),
    "Completed": (),
}
PARTITION_PREFIX = "iteration-"
_KEY = re.compile(r"^iteration-(\d+)$")

# What an iteration may be configured with (stored as JSON on the row); anything else is refused.
DEFAULT_CONFIG: dict[str, Any] = {
    "channel": None,             # value channel to window (default: the run's peak/first channel)
    "window": 32,                # samples per window
    "step": 16,                  # samples between window starts
    "holdout_runs": [],          # labelled runs kept out of training, for the metrics
    "inference_runs": [],        # runs to propose anomalies on (default: every processed run not labelled)
    "continue_from_previous": False,  # continue the previous iteration's model on the new labels only
    "threshold": 0.5,            # probability above which a window is proposed as anomalous
    "label_budget": 50,          # windows the next iteration's queue offers to label
    "start_after_labels": None,  # automation: start the next iteration after this many new confirmed runs
    "target_f1": None,           # automation: stop starting iterations once event F1 reaches this
}


class IllegalTransition(ValueError):
    """An iteration was asked to move to a state it cannot reach from where it stands."""


class IterationNotFound(LookupError):
    """No iteration with that number."""

    def __init__(self, number: int):
        super().__init__(f"there is no iteration {number}; list them with GET /api/v1/iterations or create one")
        self.number = number


class IterationRow(Base):
    __tablename__ = "loop_iterations"

    number: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    state: Mapped[str] = mapped_column(String(20))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(Text, default="")


class IterationTransitionRow(Base):
    __tablename__ = "loop_iteration_transitions"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    number: Mapped[int] = mapped_column(ForeignKey("loop_iterations.number", ondelete="CASCADE"), index=True)
    from_state: Mapped[str] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text, default="")


@dataclass(frozen=True)
class Transition:
    """One recorded move of an iteration: from, to, who, when, why."""

    from_state: str
    to_state: str
    actor: str
    at: datetime
    note: str


@dataclass(frozen=True)
class Iteration:
    """One iteration of the loop: its state, configuration, recorded metrics and history."""

    number: int
    state: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    config: dict[str, Any]
    metrics: dict[str, Any]
    history: tuple[Transition, ...] = ()

    @property
    def key(self) -> str:
        """The iteration's partition key in the asset graph."""
        return partition_key(self.number)

    @property
    def allowed(self) -> tuple[str, ...]:
        """States this iteration may move to next."""
        return TRANSITIONS[self.state]


def partition_key(number: int) -> str:
    """``iteration-<n>``: the dynamic partition key of iteration ``number``."""
    return f"{PARTITION_PREFIX}{number}"


def iteration_number(key: str) -> int:
    """The iteration number of a partition key ``iteration-<n>``."""
    match = _KEY.match(key or "")
    if not match:
        raise ValueError(f"{key!r} is not an iteration partition key; expected e.g. 'iteration-3'")
    return int(match.group(1))


def check_transition(current: str, target: str) -> None:
    """Raise :class:`IllegalTransition` unless ``current`` → ``target`` is a legal move."""
    if target not in STATES:
        raise IllegalTransition(f"unknown state {target!r}; the states are {', '.join(STATES)}")
    allowed = TRANSITIONS[current]
    if target not in allowed:
        where = f"from {current} the iteration can move to {', '.join(allowed)}" if allowed else \
            f"{current} is final: create a new iteration instead"
        raise IllegalTransition(f"an iteration cannot move from {current} to {target}; {where}")


def checked_config(config: dict[str, Any] | None) -> dict[str, Any]:
    """The defaults with ``config`` applied; unknown keys and bad values are refused."""
    config = dict(config or {})
    unknown = sorted(set(config) - set(DEFAULT_CONFIG))
    if unknown:
        raise ValueError(f"unknown iteration setting(s) {', '.join(unknown)}; use {', '.join(DEFAULT_CONFIG)}")
    merged = {**DEFAULT_CONFIG, **config}
    for name in ("window", "step", "label_budget"):
        if not isinstance(merged[name], int) or merged[name] < 1:
            raise ValueError(f"iteration setting {name} must be a whole number ≥ 1, got {merged[name]!r}")
    if merged["window"] < 4:
        raise ValueError("iteration setting window must be at least 4 samples")
    if not 0.0 < float(merged["threshold"]) < 1.0:
        raise ValueError(f"iteration setting threshold must lie between 0 and 1, got {merged['threshold']!r}")
    if merged["start_after_labels"] is not None and (not isinstance(merged["start_after_labels"], int)
                                                     or merged["start_after_labels"] < 1):
        raise ValueError("iteration setting start_after_labels must be a whole number ≥ 1 (or null: off)")
    if merged["target_f1"] is not None and not 0.0 < float(merged["target_f1"]) <= 1.0:
        raise ValueError("iteration setting target_f1 must lie in (0, 1] (or null: off)")
    for name in ("holdout_runs", "inference_runs"):
        merged[name] = [str(k) for k in merged[name] or []]
    return merged


class IterationStore:
    """Iterations and their transitions in the catalog database."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        catalog.create_tables()

    def create(self, author: str, *, config: dict[str, Any] | None = None, note: str = "") -> Iteration:
        """A new iteration (state ``Created``) numbered after the newest one.

        Settings not given are taken from the previous iteration, else from :data:`DEFAULT_CONFIG`.
        """
        author = _author(author)
        checked_config(config)  # refuse bad settings before touching the database
        return self.get(retry_on_conflict(lambda: self._insert_next(author, config, note)))

    def _insert_next(self, author: str, config: dict[str, Any] | None, note: str) -> int:
        now = _utcnow()
        with self.catalog.begin() as session:
            last = session.scalars(select(IterationRow).order_by(IterationRow.number.desc()).limit(1)).first()
            base = {k: v for k, v in (last.config if last else {}).items() if k in DEFAULT_CONFIG}
            row = IterationRow(number=(last.number + 1) if last else 1, state="Created", created_by=author,
                               created_at=now, updated_at=now, config=checked_config({**base, **(config or {})}),
                               metrics={}, note=note)
            session.add(row)
            session.flush()
            session.add(IterationTransitionRow(number=row.number, from_state="", to_state="Created", actor=author,
                                               at=now, note=note or "created"))
            return row.number

    def get(self, number: int) -> Iteration:
        """Iteration ``number`` with its history, or :class:`IterationNotFound`."""
        with self.catalog.session() as session:
            row = session.get(IterationRow, number)
            if row is None:
                raise IterationNotFound(number)
            history = session.scalars(select(IterationTransitionRow).where(IterationTransitionRow.number == number)
                                      .order_by(IterationTransitionRow.id)).all()
            return _iteration(row, history)

    def list(self) -> list[Iteration]:
        """Every iteration, oldest first (without the transition history)."""
        with self.catalog.session() as session:
            return [_iteration(row, ()) for row in session.scalars(select(IterationRow).order_by(IterationRow.number))]

    def latest(self) -> Iteration | None:
        """The newest iteration, or ``None``."""
        with self.catalog.session() as session:
            number = session.scalar(select(func.max(IterationRow.number)))
        return None if number is None else self.get(number)

    def transition(self, number: int, target: str, actor: str, *, note: str = "") -> Iteration:
        """Move the iteration to ``target`` if that is legal from its current state (one conditional update)."""
        actor = _author(actor)
        current = self.get(number)
        check_transition(current.state, target)
        now = _utcnow()
        with self.catalog.begin() as session:
            moved = session.execute(update(IterationRow).where(IterationRow.number == number,
                                                               IterationRow.state == current.state)
                                    .values(state=target, updated_at=now)).rowcount
            if moved != 1:
                raise IllegalTransition(f"iteration {number} changed state meanwhile; reload it and try again")
            session.add(IterationTransitionRow(number=number, from_state=current.state, to_state=target,
                                               actor=actor, at=now, note=note))
        return self.get(number)

    def record_metrics(self, number: int, metrics: dict[str, Any]) -> Iteration:
        """Keep the iteration's metrics (precision/recall/F1, labels spent) on its row."""
        with self.catalog.begin() as session:
            row = session.get(IterationRow, number)
            if row is None:
                raise IterationNotFound(number)
            row.metrics = dict(metrics)
            row.updated_at = _utcnow()
        return self.get(number)

    def previous(self, number: int) -> Iteration | None:
        """The iteration before ``number`` (the newest with a smaller number), or ``None``."""
        with self.catalog.session() as session:
            before = session.scalar(select(func.max(IterationRow.number)).where(IterationRow.number < number))
        return None if before is None else self.get(before)


def _iteration(row: IterationRow, history: Any) -> Iteration:
    return Iteration(row.number, row.state, row.created_by, row.created_at, row.updated_at, dict(row.config),
                     dict(row.metrics or {}),
                     tuple(Transition(h.from_state, h.to_state, h.actor, h.at, h.note) for h in history))


def _author(author: str) -> str:
    author = (author or "").strip()
    if not author:
        raise ValueError("say who you are: every iteration change is recorded with a name")
    return author[:200]


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)
