"""Feedback on pattern events: a person says true or false positive; the source's thresholds follow.

Each pattern type of a source has a *strictness* (1 = as configured). A false positive raises it by
25 %, a true positive lowers it by 10 % (bounded 0.25–8). Strictness raises the anomaly quantile
(``1 - (1 - q) / strictness``), the drift's minimum change and the cluster's minimum shift.
Records and strictness are kept in ``$LABFLOW_HOME/streams/feedback/``.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from labflow.store.atomic import write_atomic
from labflow.streams.patterns import PATTERN_TYPES
from labflow.streams.sources import SourceConfig

Verdict = Literal["true_positive", "false_positive"]
VERDICTS = ("true_positive", "false_positive")
_STEP = {"true_positive": 0.9, "false_positive": 1.25}
_BOUNDS = (0.25, 8.0)


@dataclass(frozen=True)
class Thresholds:
    """A source's thresholds in effect after feedback."""

    anomaly_quantile: float
    drift_min_change: float
    cluster_min_shift: float
    strictness: dict[str, float] = field(default_factory=dict)


def thresholds_for(config: SourceConfig, strictness: dict[str, float]) -> Thresholds:
    """The configured thresholds moved by ``strictness`` (per pattern type)."""
    anomaly = strictness.get("anomaly", 1.0)
    return Thresholds(
        anomaly_quantile=min(1.0 - (1.0 - config.anomaly.quantile) / anomaly, 0.99999),
        drift_min_change=config.drift.min_change * strictness.get("drift", 1.0),
        cluster_min_shift=config.clusters.min_shift * strictness.get("cluster_change", 1.0),
        strictness={t: strictness.get(t, 1.0) for t in PATTERN_TYPES},
    )


class FeedbackBook:
    """Feedback records (JSON lines) and the strictness per source and pattern type."""

    def __init__(self, root: Path):
        self.root = root
        self._lock = threading.Lock()

    def strictness(self, source: str) -> dict[str, float]:
        path = self.root / f"{source}.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def record(self, pattern: dict[str, Any], verdict: str, note: str = "", author: str = "") -> dict[str, Any]:
        """Store a verdict on ``pattern`` and move its source's strictness; returns the stored record."""
        if verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}, got {verdict!r}")
        source, kind = pattern["source"], pattern["type"]
        with self._lock:
            strictness = self.strictness(source)
            before = strictness.get(kind, 1.0)
            after = min(max(before * _STEP[verdict], _BOUNDS[0]), _BOUNDS[1])
            strictness[kind] = after
            record = {"pattern_id": pattern["pattern_id"], "source": source, "type": kind, "verdict": verdict,
                      "note": note, "author": author, "at": datetime.now(timezone.utc).isoformat(),
                      "strictness_before": before, "strictness_after": after}
            self.root.mkdir(parents=True, exist_ok=True)
            with (self.root / f"{source}.jsonl").open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")
            write_atomic(self.root / f"{source}.json", json.dumps(strictness, sort_keys=True).encode())
        return record

    def records(self, source: str | None = None) -> list[dict[str, Any]]:
        """Every feedback record (of one source, or all), oldest first."""
        files = [self.root / f"{source}.jsonl"] if source else sorted(self.root.glob("*.jsonl"))
        rows = [json.loads(line) for path in files if path.exists()
                for line in path.read_text(encoding="utf-8").splitlines() if line]
        return sorted(rows, key=lambda r: r["at"])
