"""Pattern events: what a detector found, when, how sure it is, and which fields contributed."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

PatternType = Literal["drift", "anomaly", "cluster_change"]
PATTERN_TYPES: tuple[str, ...] = ("drift", "anomaly", "cluster_change")


@dataclass(slots=True)
class Contributor:
    """A field and how much it contributed (0–1)."""

    field: str
    score: float


@dataclass(slots=True)
class PatternEvent:
    """``{pattern_id, type, timestamp, source, details: {prev_state, new_state, metrics, confidence}, contributors}``."""

    type: str
    timestamp: datetime
    source: str
    prev_state: dict[str, Any]
    new_state: dict[str, Any]
    metrics: dict[str, Any]
    confidence: float
    contributors: list[Contributor] = field(default_factory=list)
    event_id: str | None = None
    pattern_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])

    def to_dict(self) -> dict[str, Any]:
        """The JSON form served by the API and kept in the spool."""
        return {
            "pattern_id": self.pattern_id, "type": self.type, "timestamp": self.timestamp.isoformat(),
            "source": self.source, "event_id": self.event_id,
            "details": {"prev_state": self.prev_state, "new_state": self.new_state, "metrics": self.metrics,
                        "confidence": round(float(self.confidence), 4)},
            "contributors": [asdict(c) for c in self.contributors],
        }


def ranked_contributors(deviations: dict[str, float], top: int = 5) -> list[Contributor]:
    """Fields ranked by deviation, scaled so they sum to 1."""
    total = sum(deviations.values()) or 1.0
    ranked = sorted(deviations.items(), key=lambda kv: kv[1], reverse=True)[:top]
    return [Contributor(name, round(value / total, 4)) for name, value in ranked]
