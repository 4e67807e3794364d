"""The pattern engine: per source, prepared events pass the scaler and the detectors; findings become
pattern events. Each source's state (scaler, trees, windows, centroids, seen ids) is checkpointed with
pickle under ``$LABFLOW_HOME/streams/state/`` so a restart resumes instead of relearning.
"""

from __future__ import annotations

import pickle
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from labflow.store.atomic import write_atomic
from labflow.streams.anomaly import AnomalyDetector, make_scaler
from labflow.streams.clusters import ClusterWatch
from labflow.streams.drift import DriftWatch, LabelDrift
from labflow.streams.events import Event
from labflow.streams.feedback import FeedbackBook, Thresholds, thresholds_for
from labflow.streams.patterns import Contributor, PatternEvent, ranked_contributors
from labflow.streams.preprocess import SeenIds, prepare_events
from labflow.streams.sources import SourceConfig, SourceRegistry
from labflow.streams.store import StreamStore

STATE_VERSION = 1


@dataclass
class BatchResult:
    """What one batch produced: the prepared frame, each row's anomaly score and the pattern events."""

    frame: pl.DataFrame
    scores: list[float]
    patterns: list[PatternEvent]


class SourcePipeline:
    """The detectors of one source and what they have learned (picklable)."""

    def __init__(self, config: SourceConfig, thresholds: Thresholds | None = None):
        self.version = STATE_VERSION
        self.features = config.feature_names
        self.config = config
        self.scaler = make_scaler(config.anomaly)
        steps = tuple(f"{name}.step" for name in config.feature_names) if config.anomaly.steps else ()
        self.anomaly = AnomalyDetector(config.anomaly, (*config.feature_names, *steps))
        self.drift = DriftWatch(config.feature_names, config.drift)
        self.clusters = ClusterWatch(config.feature_names, config.clusters, seed=config.anomaly.seed)
        self.labels = LabelDrift() if config.label_field else None
        self.seen_ids = SeenIds()
        self.last: dict[str, float] = {}
        self.mean: dict[str, float] = {}
        self.processed = 0
        self.configure(config, thresholds or thresholds_for(config, {}))

    def configure(self, config: SourceConfig, thresholds: Thresholds) -> None:
        """Apply a changed source file or feedback without forgetting what was learned."""
        self.config = config
        self.thresholds = thresholds
        self.anomaly.configure(config.anomaly, thresholds.anomaly_quantile)
        self.drift.configure(config.drift, thresholds.drift_min_change)
        self.clusters.configure(config.clusters, thresholds.cluster_min_shift)

    def process(self, events: list[Event]) -> BatchResult:
        """Prepare a batch, run every new event through the detectors, return scores and patterns."""
        frame = prepare_events(events, self.config, self.seen_ids)
        return self.process_frame(frame)

    def process_frame(self, frame: pl.DataFrame) -> BatchResult:
        """Run a prepared frame (see :func:`prepare_events`) through the detectors, row by row, in order."""
        config, features = self.config, self.features
        columns = [frame[name].to_list() for name in features]
        stamps = frame["timestamp"].to_list()
        ids = frame["event_id"].to_list()
        labels = frame["label"].to_list() if self.labels is not None and "label" in frame.columns else None
        do_anomaly, do_drift, do_clusters = config.anomaly.enabled, config.drift.enabled, config.clusters.enabled
        steps = config.anomaly.steps
        scores: list[float] = []
        patterns: list[PatternEvent] = []
        last, mean, scaler = self.last, self.mean, self.scaler
        for i in range(frame.height):
            x = {}
            for name, column in zip(features, columns):
                value = column[i]
                x[name] = last.get(name, 0.0) if value is None else value
            features_in = x
            if steps:
                features_in = {**x, **{f"{name}.step": value - last.get(name, value) for name, value in x.items()}}
            last.update(x)
            if self.processed + i == 0:  # a MinMax scale of nothing is NaN: learn the very first event first
                scaler.learn_one(features_in)
            scaled = scaler.transform_one(features_in)
            scaler.learn_one(features_in)
            for name, value in scaled.items():
                mean[name] = mean.get(name, value) * 0.99 + value * 0.01
            score = 0.0
            alarmed = False
            if do_anomaly:
                score = self.anomaly.score_learn(scaled)
                if self.anomaly.alarm(score):
                    alarmed = True
                    patterns.append(self._anomaly(stamps[i], ids[i], x, scaled, score))
            if do_drift:
                shifts = self.drift.update(x)
                if shifts:
                    patterns.append(self._drift(stamps[i], ids[i], shifts))
            if do_clusters:
                moved = self.clusters.update(x)
                if moved is not None:
                    patterns.append(self._cluster(stamps[i], ids[i], moved))
            if labels is not None and self.anomaly.seen >= config.anomaly.warmup \
                    and self.labels.update(alarmed, bool(labels[i])):
                patterns.append(self._label_drift(stamps[i], ids[i]))
            scores.append(score)
        self.processed += frame.height
        return BatchResult(frame, scores, patterns)

    def _anomaly(self, stamp: datetime, event_id: str, x: dict, scaled: dict, score: float) -> PatternEvent:
        deviation: dict[str, float] = {}
        for name, value in scaled.items():
            field = name.removesuffix(".step")
            deviation[field] = deviation.get(field, 0.0) + abs(value - self.mean.get(name, value))
        threshold = self.anomaly.threshold
        return PatternEvent(
            "anomaly", stamp, self.config.name,
            prev_state={"typical_scaled": {k: round(v, 4) for k, v in self.mean.items() if k in x}},
            new_state={"values": x}, event_id=event_id,
            metrics={"score": round(score, 4), "threshold": round(threshold, 4),
                     "quantile": round(self.anomaly.quantile, 5)},
            confidence=min(1.0, 0.5 + (score - threshold) / max(2 * (1 - threshold), 1e-9)),
            contributors=ranked_contributors(deviation))

    def _drift(self, stamp: datetime, event_id: str, shifts: list) -> PatternEvent:
        strongest = max(s.change_sd for s in shifts)
        return PatternEvent(
            "drift", stamp, self.config.name, event_id=event_id,
            prev_state={s.field: {"mean": round(s.before, 6)} for s in shifts},
            new_state={s.field: {"mean": round(s.after, 6)} for s in shifts},
            metrics={"change_sd": round(strongest, 3), "min_change_sd": round(self.drift.min_change, 3),
                     "detector": "ADWIN"},
            confidence=min(1.0, strongest / (strongest + self.drift.min_change)),
            contributors=ranked_contributors({s.field: s.change_sd for s in shifts}))

    def _cluster(self, stamp: datetime, event_id: str, moved: Any) -> PatternEvent:
        return PatternEvent(
            "cluster_change", stamp, self.config.name, event_id=event_id,
            prev_state={"centroids": _rounded(moved.before)}, new_state={"centroids": _rounded(moved.after)},
            metrics={"shift": round(moved.shift, 4), "min_shift": round(self.clusters.min_shift, 4)},
            confidence=min(1.0, moved.shift / (moved.shift + self.clusters.min_shift)),
            contributors=ranked_contributors(moved.by_field))

    def _label_drift(self, stamp: datetime, event_id: str) -> PatternEvent:
        assert self.labels is not None
        return PatternEvent(
            "drift", stamp, self.config.name, event_id=event_id, prev_state={}, new_state={},
            metrics={"detector": "DDM", "error_rate": round(self.labels.error_rate, 4)}, confidence=0.9,
            contributors=[Contributor(self.config.label_field or "label", 1.0)])


def structure(config: SourceConfig) -> tuple:
    """The settings that shape what a pipeline learned; changing one starts the source's learning afresh."""
    a, c = config.anomaly, config.clusters
    return (config.feature_names, a.scaling, a.steps, a.n_trees, a.height, a.window_size, a.headroom, a.seed, c.n_clusters,
            c.warmup, bool(config.label_field))


def _rounded(centres: list[dict[str, float]]) -> list[dict[str, float]]:
    return [{k: round(v, 4) for k, v in c.items()} for c in centres]


class StreamEngine:
    """Every source's pipeline, the spool and the feedback; one thread processes batches at a time."""

    def __init__(self, root: Path, registry: SourceRegistry, *, checkpoint_every_s: float = 5.0):
        self.root = root
        self.registry = registry
        self.store = StreamStore(root)
        self.feedback = FeedbackBook(root / "feedback")
        self.state_dir = root / "state"
        self.checkpoint_every_s = checkpoint_every_s
        self.pipelines: dict[str, SourcePipeline] = {}
        self._dirty: set[str] = set()
        self._last_checkpoint = time.monotonic()
        self._lock = threading.RLock()

    def pipeline(self, source: str) -> SourcePipeline:
        """The source's pipeline: in memory, else from its checkpoint, else new; kept in step with its config."""
        config = self.registry.get(source)
        with self._lock:
            pipeline = self.pipelines.get(source) or self._restore(source)
            if pipeline is None or structure(pipeline.config) != structure(config):
                pipeline = SourcePipeline(config)
            if pipeline.config != config or pipeline.thresholds.strictness != self._strictness(source):
                pipeline.configure(config, thresholds_for(config, self.feedback.strictness(source)))
            self.pipelines[source] = pipeline
            return pipeline

    def _strictness(self, source: str) -> dict[str, float]:
        return thresholds_for(self.registry.get(source), self.feedback.strictness(source)).strictness

    def process(self, source: str, events: list[Event]) -> BatchResult:
        """Detect patterns in a batch of ``source`` and spool the events and patterns."""
        with self._lock:
            pipeline = self.pipeline(source)
            result = pipeline.process(events)
            self.store.append_events(source, result.frame, result.scores)
            self.store.append_patterns(source, [p.to_dict() for p in result.patterns])
            self._dirty.add(source)
            self.checkpoint_if_due()
            return result

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Hold processing while inside (maintenance; tests of back-pressure): queued batches wait."""
        with self._lock:
            yield

    def record_feedback(self, pattern_id: str, verdict: str, note: str = "", author: str = "") -> dict[str, Any]:
        """Store feedback on a pattern and apply the source's new thresholds at once."""
        pattern = self.store.find_pattern(pattern_id)
        record = self.feedback.record(pattern, verdict, note, author)
        with self._lock:
            if pattern["source"] in self.pipelines:
                self.pipeline(pattern["source"])
                self._dirty.add(pattern["source"])
        return record

    def thresholds(self, source: str) -> Thresholds:
        return self.pipeline(source).thresholds

    def checkpoint_if_due(self) -> None:
        """Checkpoint when something changed and ``checkpoint_every_s`` passed since the last checkpoint."""
        if self._dirty and time.monotonic() - self._last_checkpoint >= self.checkpoint_every_s:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Write the state of every source that changed since the last checkpoint."""
        with self._lock:
            for source in sorted(self._dirty):
                write_atomic(self.state_dir / f"{source}.pkl",
                             pickle.dumps(self.pipelines[source], protocol=pickle.HIGHEST_PROTOCOL))
            self._dirty.clear()
            self._last_checkpoint = time.monotonic()

    def _restore(self, source: str) -> SourcePipeline | None:
        path = self.state_dir / f"{source}.pkl"
        if not path.exists():
            return None
        try:
            pipeline = pickle.loads(path.read_bytes())
        except Exception:  # an unreadable checkpoint (older library version): start afresh
            return None
        return pipeline if getattr(pipeline, "version", None) == STATE_VERSION else None
