"""Logic of the Patterns tab (no Gradio): recent events and pattern events of a source from the stream
spool, the live chart with pattern markers, the pattern table, and feedback on a pattern."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl
from matplotlib.figure import Figure

from labflow.settings import Settings
from labflow.streams.feedback import VERDICTS, FeedbackBook
from labflow.streams.sources import SourceRegistry
from labflow.streams.store import PatternNotFound, StreamStore

PATTERN_COLUMNS = ["pattern", "time (UTC)", "type", "confidence", "top field", "what changed", "feedback"]
MARKERS = {"anomaly": ("#d62728", "anomaly"), "drift": ("#ff7f0e", "drift"),
           "cluster_change": ("#9467bd", "cluster change")}
MAX_EVENTS = 2_000


@dataclass
class PatternsData:
    """The stream spool, sources and feedback of one data directory."""

    store: StreamStore
    registry: SourceRegistry
    feedback: FeedbackBook

    @classmethod
    def open(cls, settings: Settings) -> "PatternsData":
        return cls(StreamStore(settings.streams), SourceRegistry(settings.sources_dir),
                   FeedbackBook(settings.streams / "feedback"))

    def sources(self) -> list[str]:
        """Configured sources and any that have spooled events, by name."""
        return sorted({c.name for c in self.registry.all()} | set(self.store.sources("events")))

    def recent_events(self, source: str, limit: int = MAX_EVENTS) -> pl.DataFrame:
        """The newest ``limit`` events of the source (oldest first)."""
        frames, rows = [], 0
        for hour in reversed(self.store.hours("events", source)):
            frame = self.store.read_events(source, hour)
            frames.append(frame)
            rows += frame.height
            if rows >= limit:
                break
        if not frames:
            return pl.DataFrame()
        return pl.concat(frames, how="diagonal_relaxed").sort("timestamp").tail(limit)

    def recent_patterns(self, source: str, limit: int = 200) -> list[dict[str, Any]]:
        """The newest ``limit`` pattern events of the source, newest first."""
        hours = self.store.hours("patterns", source)[-72:]
        return list(reversed(self.store.read_patterns(source, hours)))[:limit]

    def verdicts(self, source: str) -> dict[str, str]:
        """The latest verdict given on each pattern of the source."""
        return {r["pattern_id"]: r["verdict"] for r in self.feedback.records(source)}

    def give_feedback(self, pattern_id: str, verdict: str, note: str = "", author: str = "") -> str:
        """Record a verdict on a pattern; returns a sentence for the person (the new strictness)."""
        if not pattern_id:
            return "Choose a pattern in the table first."
        if verdict not in VERDICTS:
            return f"Unknown verdict {verdict!r}."
        try:
            pattern = self.store.find_pattern(pattern_id)
        except PatternNotFound as error:
            return str(error)
        record = self.feedback.record(pattern, verdict, note.strip(), author.strip())
        direction = "stricter" if record["strictness_after"] > record["strictness_before"] else "more sensitive"
        return (f"Recorded {verdict.replace('_', ' ')} on {pattern['type']} {pattern_id}; "
                f"{pattern['source']}'s {pattern['type']} detector is now {direction} "
                f"(strictness {record['strictness_before']:.2f} → {record['strictness_after']:.2f}).")


def pattern_rows(patterns: list[dict[str, Any]], verdicts: dict[str, str]) -> list[list[Any]]:
    """Table rows: id, time, type, confidence, top contributing field, a short change, feedback given."""
    rows = []
    for p in patterns:
        top = p["contributors"][0]["field"] if p["contributors"] else "–"
        rows.append([p["pattern_id"], p["timestamp"][:19].replace("T", " "), p["type"],
                     round(p["details"]["confidence"], 2), top, describe(p),
                     verdicts.get(p["pattern_id"], "").replace("_", " ")])
    return rows


def describe(pattern: dict[str, Any]) -> str:
    """One line on what changed, in the pattern's own numbers."""
    details = pattern["details"]
    metrics = details["metrics"]
    if pattern["type"] == "anomaly":
        return f"score {metrics['score']:.3f} over threshold {metrics['threshold']:.3f}"
    if pattern["type"] == "drift" and metrics.get("detector") == "ADWIN":
        parts = [f"{f}: {details['prev_state'][f]['mean']:.4g} → {details['new_state'][f]['mean']:.4g}"
                 for f in details["new_state"]]
        return "; ".join(parts) + f" ({metrics['change_sd']:.1f} sd)"
    if pattern["type"] == "drift":
        return f"label error rate {metrics.get('error_rate', 0):.1%} (DDM)"
    return f"centroids moved {metrics['shift']:.2f} warm-up sd"


def stream_figure(source: str, events: pl.DataFrame, patterns: list[dict[str, Any]], fields: list[str]) -> Figure:
    """The source's recent values (one line per field, each on its own scale) with pattern markers."""
    figure = Figure(figsize=(9, 3.8), dpi=100)
    if events.height == 0:
        axes = figure.add_subplot()
        axes.text(0.5, 0.5, f"no events from {source} yet", ha="center", va="center", transform=axes.transAxes)
        axes.set_axis_off()
        return figure
    shown = [f for f in fields if f in events.columns][:4] or [c for c in events.columns
                                                                if events[c].dtype == pl.Float64][:1]
    first, last = events["timestamp"].min(), events["timestamp"].max()
    axes_list = figure.subplots(len(shown), 1, sharex=True, squeeze=False)[:, 0]
    times = events["timestamp"].to_list()
    for axes, field in zip(axes_list, shown):
        axes.plot(times, events[field].to_list(), lw=0.8, color="#1f77b4")
        axes.set_ylabel(field, fontsize="small")
        axes.grid(alpha=0.3)
    seen: set[str] = set()
    for pattern in patterns:
        moment = datetime.fromisoformat(pattern["timestamp"])
        if not first <= moment <= last:
            continue
        color, label = MARKERS[pattern["type"]]
        for axes in axes_list:
            axes.axvline(moment, color=color, lw=1.2, alpha=0.8, ls="-" if pattern["type"] == "anomaly" else "--",
                         label=label if label not in seen and axes is axes_list[0] else None)
        seen.add(label)
    if seen:
        axes_list[0].legend(loc="upper left", fontsize="small")
    figure.autofmt_xdate()
    figure.subplots_adjust(left=0.1, right=0.98, top=0.95, bottom=0.18, hspace=0.15)
    return figure


def source_fields(data: PatternsData, source: str) -> list[str]:
    """The fields the source's file names (empty when it has no file any more)."""
    try:
        return list(data.registry.get(source).feature_names)
    except LookupError:
        return []


def pattern_json(pattern: dict[str, Any]) -> str:
    return json.dumps(pattern, indent=2)
