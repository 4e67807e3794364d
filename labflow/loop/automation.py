"""Automation of the loop: start the next iteration when enough new labels exist, stop at a target F1.

Both are settings of the newest iteration (``start_after_labels``, ``target_f1``; ``None`` = off), so
they are changed like any other iteration setting and carried over to the next one.
:func:`decide` says what to do now; the loop sensor acts on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from labflow.loop.iterations import Iteration, IterationStore
from labflow.review.store import ReviewStore

METRIC = "event_f1"
# States in which the newest iteration is done with its own labels: new ones are for the next iteration.
SETTLED = ("Reviewing", "Completed")


@dataclass(frozen=True)
class Decision:
    """``start`` a new iteration, ``stop`` (target reached) or ``wait``, and why."""

    action: str
    reason: str
    new_labels: int = 0


def new_labels_since(review: ReviewStore, since: datetime) -> int:
    """How many runs have a newest confirmed annotation made after ``since``."""
    return sum(1 for version in review.latest_versions() if version.created_at > since)


def decide(iterations: IterationStore, review: ReviewStore) -> Decision:
    """What the automation should do now, from the newest iteration's settings, state and metrics."""
    latest = iterations.latest()
    if latest is None:
        return Decision("wait", "no iteration yet: create the first one by hand")
    start_after, target = latest.config.get("start_after_labels"), latest.config.get("target_f1")
    if target is not None and _score(latest) is not None and _score(latest) >= float(target):  # type: ignore[operator]
        return Decision("stop", f"iteration {latest.number} reached event F1 {_score(latest):.3f} ≥ target {target}")
    if start_after is None:
        return Decision("wait", "automatic start is off (start_after_labels not set)")
    if latest.state not in SETTLED:
        return Decision("wait", f"iteration {latest.number} is still {latest.state}")
    count = new_labels_since(review, _settled_at(latest))
    if count < int(start_after):
        return Decision("wait", f"{count} of {start_after} new confirmed run(s) since iteration {latest.number}",
                        count)
    return Decision("start", f"{count} new confirmed run(s) since iteration {latest.number} (≥ {start_after})", count)


def _score(iteration: Iteration) -> float | None:
    value = iteration.metrics.get(METRIC)
    return None if value is None else float(value)


def _settled_at(iteration: Iteration) -> datetime:
    """When the iteration's model was trained (labels confirmed after that are new); its creation if unknown."""
    moves = [t.at for t in iteration.history if t.to_state == "Training"]
    return moves[-1] if moves else iteration.created_at
