"""A realistic past month for the operations dashboard: files over N days, processed and reviewed.

``labflow demo --history 30d`` ingests demo files with their arrival time spread over the past
days (a few of them broken), processes them through the real asset graph (the caller passes a
``process`` function that materializes run keys), then confirms, corrects or rejects most of them
at plausible times afterwards, as people would have. Everything lands where live data does: the
catalog, the object store, asset outputs, the review store (whose confirmations the daemon then
turns into annotations and the confirmed dataset).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from pathlib import PurePosixPath

import numpy as np

from labflow.review.annotations import Annotation
from labflow.store.catalog import Catalog
from labflow.demo.files import GENERATORS, DemoFile, OPERATORS
from labflow.ingest.register import register_bytes
from labflow.review.store import ReviewStore
from labflow.review.session import detected_annotation
from labflow.settings import Settings
from labflow.store.objects import open_object_store
from labflow.store.outputs import MissingOutputError, OutputStore, open_output_store

BROKEN_SHARE = 0.03
HISTORY_INDEX_OFFSET = 1000  # file names never clash with the live demo's


@dataclass(frozen=True)
class HistorySummary:
    """What the history seeding produced."""

    files: int
    runs: int
    processed: int
    failed: int
    confirmed: int
    rejected: int
    drafts: int


def parse_days(spec: str) -> int:
    """``30d`` (or ``30``) → 30."""
    text = spec.strip().lower().removesuffix("d")
    if not text.isdigit() or not 1 <= int(text) <= 365:
        raise ValueError(f"history must be a number of days between 1 and 365, like 30d; got {spec!r}")
    return int(text)


def history_files(days: int, *, seed: int = 11, per_day: tuple[int, int] = (4, 12),
                  now: datetime | None = None) -> list[tuple[DemoFile, datetime]]:
    """Demo files with an arrival time each, over the ``days`` days before ``now`` (a few broken)."""
    rng = np.random.default_rng(seed)
    now = now or datetime.now(timezone.utc)
    first_day = (now - timedelta(days=days)).date()
    files = []
    for offset in range(days):
        day = datetime.combine(first_day + timedelta(days=offset + 1), time(7), tzinfo=timezone.utc)
        for _ in range(int(rng.integers(per_day[0], per_day[1] + 1))):
            arrived = min(day + timedelta(minutes=float(rng.uniform(0, 11 * 60))), now - timedelta(minutes=5))
            index = HISTORY_INDEX_OFFSET + len(files)
            demo = GENERATORS[index % len(GENERATORS)](rng, index, arrived)
            if rng.random() < BROKEN_SHARE:
                demo = DemoFile(demo.relative_path, b"exported the wrong window: no data here\n", demo.sidecar)
            files.append((demo, arrived))
    return files


def ingest_history(settings: Settings, catalog: Catalog, files: list[tuple[DemoFile, datetime]]) -> list[str]:
    """Stage and register each file as if it had arrived at its time; returns the new run keys."""
    keys: list[str] = []
    for demo, arrived in files:
        name = PurePosixPath(demo.relative_path).name
        sidecar = (f"{name}.meta.json", json.dumps(demo.sidecar)) if demo.sidecar is not None else None
        outcome = register_bytes(demo.data, relative=demo.relative_path, source=f"history:{demo.relative_path}",
                                 sidecar=sidecar, objects=open_object_store(settings), catalog=catalog,
                                 is_known_run=lambda key: key in keys, now=arrived)
        if outcome.kind == "new" and outcome.run_key not in keys:
            keys.append(outcome.run_key)
    return keys


def review_history(catalog: Catalog, outputs: OutputStore, keys: list[str], *, seed: int = 11,
                   now: datetime | None = None) -> tuple[int, int, int]:
    """Confirm (70 %), correct peaks (10 %), reject (10 %) or leave as a draft (5 %) the processed runs.

    Each review happens some hours after the file arrived, never in the future. Returns
    (confirmed, rejected, drafts).
    """
    rng = np.random.default_rng(seed + 1)
    now = now or datetime.now(timezone.utc)
    review = ReviewStore(catalog)
    confirmed = rejected = drafts = 0
    for key in keys:
        run = catalog.get_run(key)
        if run is None or run.status != "processed":
            continue
        try:
            peaks = outputs.read_frame("peaks", key)
        except MissingOutputError:
            continue
        detected = detected_annotation(peaks, peaks["channel"][0] if peaks.height else None)
        when = min(run.detected_at + timedelta(hours=float(rng.uniform(0.5, 30))), now)
        author = OPERATORS[int(rng.integers(len(OPERATORS)))]
        draw = rng.random()
        if draw < 0.70:
            review.confirm(key, author, detected, base_version=0, at=when)
            confirmed += 1
        elif draw < 0.80 and detected.peaks:
            corrected = detected.with_peaks(detected.peaks[:-1]).model_copy(
                update={"verdict": "peaks_wrong", "reasons": ("false_peak",)})
            review.confirm(key, author, corrected, base_version=0, at=when)
            confirmed += 1
        elif draw < 0.90:
            verdict = "invalid" if rng.random() < 0.5 else "failed_experiment"
            review.confirm(key, author, Annotation(verdict=verdict, reasons=("sample_problem",)), base_version=0,
                           at=when)
            rejected += 1
        elif draw < 0.95:
            review.save_draft(key, author, detected, base_version=0)
            drafts += 1
    return confirmed, rejected, drafts


def seed_history(settings: Settings, catalog: Catalog, days: int, process: Callable[[list[str]], None], *,
                 seed: int = 11, now: datetime | None = None) -> HistorySummary:
    """Ingest, process (through ``process``) and review a history of ``days`` days."""
    files = history_files(days, seed=seed, now=now)
    keys = ingest_history(settings, catalog, files)
    process(keys)
    confirmed, rejected, drafts = review_history(catalog, open_output_store(settings), keys, seed=seed, now=now)
    runs = [catalog.get_run(k) for k in keys]
    return HistorySummary(files=len(files), runs=len(keys),
                          processed=sum(1 for r in runs if r is not None and r.status == "processed"),
                          failed=sum(1 for r in runs if r is not None and r.status == "failed"),
                          confirmed=confirmed, rejected=rejected, drafts=drafts)
