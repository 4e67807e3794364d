"""Cluster change: online k-means on the fields in warm-up units; a regime change moves its centroids.

The first ``warmup`` events fix each field's scale (mean and standard deviation); after that the
events, standardised with that frozen scale, train a k-means every ``every``-th event. Every ``check``
events the centroids are compared with the reference (those at the last reported change, or right
after warm-up); when they moved by at least ``min_shift`` (warm-up standard deviations, mean
nearest-centroid distance) a change is reported and the new centroids become the reference.

>>> from labflow.streams.sources import ClusterSettings
>>> watch = ClusterWatch(("v",), ClusterSettings(warmup=2, check=2, every=1))
>>> watch.update({"v": 0.1}) is None
True

Reference: river's ``cluster.KMeans`` (sequential k-means with a half-life).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from river import cluster

from labflow.streams.drift import Spread
from labflow.streams.sources import ClusterSettings


@dataclass(slots=True)
class CentroidShift:
    """Centroids before and after (warm-up units), the mean shift and each field's share of it."""

    before: list[dict[str, float]]
    after: list[dict[str, float]]
    shift: float
    by_field: dict[str, float]


class ClusterWatch:
    """Learns every ``every``-th event after warm-up; compares centroids every ``check`` events."""

    def __init__(self, fields: tuple[str, ...], settings: ClusterSettings, seed: int = 42):
        self.fields = fields
        self.settings = settings
        self.min_shift = settings.min_shift
        self.model = cluster.KMeans(n_clusters=settings.n_clusters, halflife=settings.halflife, mu=0.0, sigma=1.0,
                                    seed=seed)
        self.spread = {f: Spread() for f in fields}
        self.scale: dict[str, tuple[float, float]] | None = None
        self.seen = 0
        self.reference: list[dict[str, float]] | None = None

    def configure(self, settings: ClusterSettings, min_shift: float) -> None:
        self.settings, self.min_shift = settings, min_shift

    def update(self, values: dict[str, float]) -> CentroidShift | None:
        """Learn from one event; a :class:`CentroidShift` when the centroids moved enough."""
        self.seen += 1
        if self.scale is None:
            for name in self.fields:
                self.spread[name].update(values[name])
            if self.seen >= self.settings.warmup:
                self.scale = {f: (s.mean, s.sd or 1.0) for f, s in self.spread.items()}
            return None
        if self.seen % self.settings.every == 0:
            self.model.learn_one({f: (values[f] - m) / sd for f, (m, sd) in self.scale.items()})
        if self.seen % self.settings.check:
            return None
        current = self.centres()
        if self.reference is None:
            self.reference = current
            return None
        shift, by_field = centroid_shift(self.reference, current)
        if shift < self.min_shift:
            return None
        before, self.reference = self.reference, current
        return CentroidShift(before, current, shift, by_field)

    def centres(self) -> list[dict[str, float]]:
        """The current centroids (warm-up units)."""
        return [{f: float(centre[f]) for f in self.fields} for _, centre in sorted(self.model.centers.items())]


def centroid_shift(before: list[dict[str, float]], after: list[dict[str, float]]) -> tuple[float, dict[str, float]]:
    """Mean distance from each new centroid to its nearest old one, and the per-field part of it."""
    total, by_field = 0.0, {}
    for centre in after:
        nearest = min(before, key=lambda old: sum((centre[k] - v) ** 2 for k, v in old.items()))
        total += math.sqrt(sum((centre[k] - v) ** 2 for k, v in nearest.items()))
        for k, v in nearest.items():
            by_field[k] = by_field.get(k, 0.0) + abs(centre[k] - v)
    return total / max(len(after), 1), by_field
