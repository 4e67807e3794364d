"""Windows with labels from confirmed anomaly intervals: what the anomaly model learns from.

A window is labelled anomalous (``label`` 1) when a confirmed interval covers at least half of the
shorter of the two (so a short spike inside a window counts, and so does a window inside a long
stretch). Every window of a run with a confirmed annotation is labelled (no interval = all normal),
unless only some windows were labelled (``labelled_ids``, as an annotator labelling windows does).
:func:`to_jsonl` writes the set in an instruction/input/output layout for fine-tuning an external
time-series language model.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence

import numpy as np
import polars as pl

from labflow.loop.windows import series_windows
from labflow.review.store import ReviewStore
from labflow.store.outputs import OutputStore

Intervals = Sequence[tuple[float, float]]
MIN_COVER = 0.5
JSONL_INSTRUCTION = ("Here are consecutive readings of the channel {channel} of the instrument run {run_key}, "
                     "from {start_s:g} s to {end_s:g} s. Answer 'anomaly' if they contain an anomaly "
                     "(spike, level shift, noise burst, dropout), else 'normal'.")


class TrainingSetError(ValueError):
    """The labelled windows cannot train a model (none, or only one class)."""


def confirmed_intervals(review: ReviewStore, *, runs: Collection[str] | None = None,
                        accepted_only: bool = True) -> dict[str, list[tuple[float, float]]]:
    """The anomaly intervals of each run's newest confirmed annotation (an empty list = checked, none).

    Runs confirmed as invalid or as a failed experiment are left out unless ``accepted_only`` is off:
    their signal is not ground truth for what an anomaly looks like.
    """
    return {v.run_key: [(i.start_s, i.end_s) for i in v.annotation.intervals]
            for v in review.latest_versions()
            if (runs is None or v.run_key in runs) and (v.annotation.accepted or not accepted_only)}


def series_channel(frame: pl.DataFrame, channel: str | None = None) -> str:
    """The value channel to window: ``channel`` if the series has it, else its first raw channel."""
    channels = [c for c in frame.columns if c not in ("time_s", "timestamp") and not c.endswith("_clean")]
    if channel:
        if channel not in frame.columns:
            raise ValueError(f"the series has no channel {channel!r}; it has {', '.join(channels)}: "
                             "change the iteration's channel setting")
        return channel
    if not channels:
        raise ValueError("the series has no value channel to look for anomalies in")
    return channels[0]


def run_series(outputs: OutputStore, run_key: str, channel: str | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """Time (s) and values of the run's channel from its stored ``clean_series``, and the channel's name."""
    frame = outputs.read_frame("clean_series", run_key)
    name = series_channel(frame, channel)
    return frame["time_s"].cast(pl.Float64).to_numpy(), frame[name].cast(pl.Float64).to_numpy(), name


def windows_of_runs(outputs: OutputStore, run_keys: Iterable[str], *, channel: str | None = None,
                    window: int = 32, step: int = 16, keep_values: bool = True) -> pl.DataFrame:
    """The windows (with features, and their samples unless ``keep_values`` is false) of every run's
    stored series, one frame."""
    frames = []
    for run_key in run_keys:
        time_s, values, name = run_series(outputs, run_key, channel)
        frame = series_windows(run_key, time_s, values, window=window, step=step)
        frame = with_values(frame, values) if keep_values else frame
        frames.append(frame.with_columns(pl.lit(name).alias("channel")))
    return pl.concat(frames, how="vertical") if frames else pl.DataFrame()


def with_values(windows: pl.DataFrame, values: np.ndarray, *, digits: int = 6) -> pl.DataFrame:
    """The windows with a ``values`` list column: their samples (rounded), for the JSONL export."""
    rounded = np.round(np.asarray(values, dtype=np.float64), digits)
    samples = [rounded[s:e].tolist() for s, e in zip(windows["start_index"].to_list(), windows["end_index"].to_list())]
    return windows.with_columns(pl.Series("values", samples, dtype=pl.List(pl.Float64)))


def label_windows(windows: pl.DataFrame, intervals: Mapping[str, Intervals]) -> pl.DataFrame:
    """The windows of labelled runs with ``label`` (1 = anomaly, 0 = normal); other runs' windows dropped."""
    labelled = windows.filter(pl.col("run_key").is_in(list(intervals)))
    labels = [_covered(start, end, intervals[run]) for run, start, end in
              zip(labelled["run_key"].to_list(), labelled["start_s"].to_list(), labelled["end_s"].to_list())]
    return labelled.with_columns(pl.Series("label", labels, dtype=pl.Int8))


def build_training_set(windows: pl.DataFrame, intervals: Mapping[str, Intervals], *,
                       holdout: Collection[str] = (), labelled_ids: Collection[str] | None = None) -> pl.DataFrame:
    """Labelled windows for training: runs with confirmed intervals, minus the held-out runs.

    ``labelled_ids`` keeps only those windows (someone labelled windows, not whole runs).
    """
    training = {run: spans for run, spans in intervals.items() if run not in set(holdout)}
    frame = label_windows(windows, training)
    if labelled_ids is not None:
        frame = frame.filter(pl.col("window_id").is_in(list(labelled_ids)))
    return frame


def check_trainable(training_set: pl.DataFrame) -> None:
    """Raise :class:`TrainingSetError` unless the set has both anomalous and normal windows."""
    if training_set.height == 0:
        raise TrainingSetError("the training set is empty: confirm at least one run (with its anomaly intervals, "
                               "or none) in the labelling app, outside the held-out runs")
    positives = int(training_set["label"].sum())
    if positives == 0 or positives == training_set.height:
        kind = "normal" if positives == 0 else "anomalous"
        raise TrainingSetError(f"all {training_set.height} labelled windows are {kind}: the model needs both; "
                               "label a run with an anomaly interval and one without")


def new_labels(training_set: pl.DataFrame, previous: pl.DataFrame | None) -> pl.DataFrame:
    """The windows of ``training_set`` that are new, or labelled differently, since ``previous``."""
    if previous is None or previous.height == 0:
        return training_set
    before = previous.select("window_id", pl.col("label").alias("_before"))
    joined = training_set.join(before, on="window_id", how="left")
    return joined.filter(pl.col("_before").is_null() | (pl.col("_before") != pl.col("label"))).drop("_before")


def to_jsonl(training_set: pl.DataFrame) -> str:
    """One JSON object per window: ``instruction``, ``input`` (the readings), ``output`` (``anomaly``/``normal``)."""
    lines = []
    for row in training_set.iter_rows(named=True):
        channel = row.get("channel") or "value"
        record = {
            "instruction": JSONL_INSTRUCTION.format(channel=channel, run_key=row["run_key"],
                                                    start_s=row["start_s"], end_s=row["end_s"]),
            "input": ", ".join(f"{v:g}" for v in row.get("values") or []),
            "output": "anomaly" if row["label"] else "normal",
            "meta": {"window_id": row["window_id"], "run_key": row["run_key"], "start_s": row["start_s"],
                     "end_s": row["end_s"], "channel": channel},
        }
        lines.append(json.dumps(record, separators=(",", ":")))
    return "\n".join(lines) + ("\n" if lines else "")


def _covered(start: float, end: float, spans: Intervals) -> int:
    length = max(end - start, 1e-12)
    for a, b in spans:
        overlap = min(end, b) - max(start, a)
        if overlap > 0 and overlap >= MIN_COVER * min(length, max(b - a, 1e-12)):
            return 1
    return 0
