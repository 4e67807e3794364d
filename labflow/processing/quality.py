"""Quality report of a parsed series: flags a scientist can act on and a 0-1 score.

Checks, per value channel and on the time axis:

- ``missing_values``: share of empty (null/NaN) channel values above ``max_missing_ratio``, counting only
  the holes in a column's own sampling pattern (see *Multi-rate columns*);
- ``low_snr``: the **main channel's** signal-to-noise ratio below ``min_snr_db`` (the channel the run is
  about: ``main``, by default the first; when it has nothing to measure — constant or a held level — the
  first channel that has). Noise ``sigma`` is the robust (MAD) spread of sample-to-sample differences /
  sqrt(2), or of second differences / sqrt(6) when smaller (a smooth curve in few points); SNR =
  10 log10(var / sigma^2 - 1), floored at -30 dB (pure noise) and capped at 120 dB (no measurable noise);
- ``too_short_to_judge`` (informational): the main channel has fewer than ``MIN_SNR_SAMPLES`` (32) values, so
  its SNR is not judged: below 32 samples the noise estimate's 95 % range spans more than 8 dB (white noise,
  simulated: 19 samples -6.7..+3.9 dB, 32 samples -5.0..+3.1 dB, 64 samples -3.3..+2.2 dB). No channel that
  short gets an SNR;
- ``noisy_side_channels`` (informational): other channels below ``min_snr_db`` (a raw AC component, a
  current held by the controller): named, with a small penalty;
- ``clipping``: runs of identical samples at the channel's exact maximum or minimum (a saturated
  detector), at least ``clipping_min_samples`` long *and* longer than quantization explains (below);
- ``flatline``: runs of identical consecutive values elsewhere (a stuck sensor), at least
  ``flatline_min_samples`` long and longer than quantization explains;
- ``constant_channels`` / ``unused_channels`` (informational): channels holding one value (below);
- ``multi_rate_channels`` (informational): columns whose empty cells are their sampling pattern (below);
- ``sampling_gaps``: time steps longer than ``gap_factor`` x the median step *and* ``gap_factor`` x the
  median of the 17 steps around them (a stretch sampled more slowly, such as a second technique, is a rate
  change, not a gap);
- ``duplicate_timestamps``: rows repeating a timestamp, in the series or dropped by the parser;
- ``reader_notes``: the reader noted something about the file (a column it could not use, an axis it had
  to invent or convert, rows it skipped or sorted): a person should look before trusting the numbers.

Informational flags (``INFORMATIONAL``) say what was seen and why it is not a defect; they alone do not send
a run to review.

**Quantized signals.** An integer (ADC-count) trace repeats values by itself: where its noise is below
one count, consecutive samples are often equal. The chance ``p`` that a sample at a *typical*
stretch's most common level repeats the previous one (median over about 32 blocks) gives, for runs of
independent repeats, a chance ``p^(L-1)`` that a run lasts ``L`` samples; a run is only counted as stuck or clipped when
fewer than 0.01 such runs are expected in the whole channel (``L >= 1 + log(0.01 / n) / log p``).
A channel that is constant in its typical stretch (``p = 1``) keeps the plain minimum lengths.

**Counting data** (non-negative integers: a gamma spectrum, a photon-counting CCD) has runs of zeros where
the expected count is about 0. A zero run at either end of the channel is a discriminator cut; inside, it is
counted as clipped only when the counts beside it make it improbable under Poisson statistics (fewer than
0.01 such runs expected: ``labflow.processing.quality_patterns.explained_zero_runs``). A detector saturated
at its maximum is still clipping.

**Constant channels** (one value through the whole run, at least ``flatline_min_samples`` of them) get no
SNR. One that reads exactly 0 (an unused slot, or a quantity zero in this run's state: no current at rest,
so no charge) or is named as a setting (``setpoint``, ``target``, ``command``, ``applied``, ``bias``,
``ampl``/``amplitude``, ``control``, ``sp``) is reported as ``unused_channels`` without penalty. Any
other is a dead sensor or an unnamed setting: ``constant_channels``, penalty ``0.5 x`` its share of the
channels. When the main channel is such a dead channel, or when every channel is constant, nothing was
measured: the penalty is 1 (score 0).

**Held levels.** A command channel (a setpoint, a target) holds a value on purpose. A channel whose
name says so (as above) or that steps between a few held levels (at least 2 distinct values, at most 5 % of
its samples distinct, >= 90 % of consecutive pairs equal) is reported as ``held_level.<channel>`` and never
counted as clipped or flat-lined (nor SNR-tested: a step has no noise to measure).

**Multi-rate columns.** A column recorded every ``k``-th row, or only in the rows of one technique or
record type (another column set fills the others), has empty cells by design; only holes in its own
pattern, or a column that stops while the others go on, count as missing
(``labflow.processing.quality_patterns.missing_by_design``). Noise is measured on a column's own values.

Score (1.0 = clean): the product of ``1 - penalty`` over the checks, each penalty in 0..1 and
monotone in its metric, so any defect can only lower the score:

- missing, clipped, flat-lined, duplicated and gap-lost shares ``r``: ``min(1, 4 r)``
  (a quarter of the data bad -> score 0);
- SNR of the main channel: ``clip((min_snr_db + 10 - snr_db) / 40, 0, 1)`` (no penalty from 10 dB above the
  minimum); side channels: ``0.1 x`` the mean of the same penalty over them (at most 0.1);
- constant channels: as above; informational flags: none;
- reader notes: ``min(0.5, 0.1 n)`` for ``n`` notes (a file the reader had doubts about is never scored clean).

Each penalty is also reported as a metric (``penalty.<check>``), so a score can be traced to its causes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from labflow.processing.quality_patterns import explained_zero_runs, is_counting, missing_by_design, time_gaps
from labflow.processing.recipes import QualityParams

FLAGS = ("missing_values", "low_snr", "too_short_to_judge", "noisy_side_channels", "clipping", "flatline",
         "constant_channels", "unused_channels", "multi_rate_channels", "sampling_gaps", "duplicate_timestamps",
         "reader_notes")
INFORMATIONAL = frozenset({"too_short_to_judge", "noisy_side_channels", "unused_channels", "multi_rate_channels"})
MAD_TO_SIGMA = 1.4826
SNR_FLOOR_DB = -30.0
SNR_CAP_DB = 120.0
SHARE_PENALTY = 4.0
SNR_MARGIN_DB = 10.0
SNR_SPAN_DB = 40.0
MIN_SNR_SAMPLES = 32
SIDE_SNR_WEIGHT = 0.1
NOISE_PAIRS = 200_000
REPEAT_BLOCKS = 32
REPEAT_MIN_BLOCK = 64
HASH_MAX_BITS = 20  # most_common hashes into about 8 buckets per value, at most 2^20 buckets
_HASH_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: the top bits mix all the bits
RUN_CHANCE = 0.01
HELD_MIN_EQUAL = 0.9
HELD_MAX_DISTINCT = 0.05
CONSTANT_PENALTY = 0.5
HELD_NAME = re.compile(r"set ?point|target|command|(?<![a-z0-9])(?:sp|applied|bias|ampl|amplitude|control)(?![a-z0-9])",
                       re.IGNORECASE)
NOTE_PENALTY = 0.1
NOTES_MAX_PENALTY = 0.5


@dataclass(frozen=True)
class QualityReport:
    """Score in 0..1, stable flag names, flat metrics (``snr_db.<channel>``) and one sentence per flag."""

    score: float
    flags: list[str]
    metrics: dict[str, float | int]
    explanations: dict[str, str]

    @property
    def defects(self) -> list[str]:
        """The flags that are not informational: what a person should review."""
        return [flag for flag in self.flags if flag not in INFORMATIONAL]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {"score": self.score, "flags": list(self.flags), "metrics": dict(self.metrics),
                "explanations": dict(self.explanations)}


@dataclass(frozen=True)
class ChannelStats:
    """Per-channel counts and levels behind the report.

    ``constant``: ``""`` (varies), ``"zero"`` (reads 0), ``"setting"`` (named as one) or ``"dead"``;
    ``short``: too few values for an SNR; ``missing`` counts only the holes, ``by_design`` the pattern's cells;
    ``count``: the finite values.
    """

    name: str
    missing: int
    clipped: int
    flat: int
    noise: float | None
    snr_db: float | None
    held: bool = False
    min_run: int = 0
    constant: str = ""
    short: bool = False
    by_design: int = 0
    counting: bool = False
    count: int = 0


def noise_sigma(values: np.ndarray) -> float:
    """Robust noise standard deviation from first and second differences of consecutive finite samples.

    The smaller of MAD(first differences) / sqrt(2) and MAD(second differences) / sqrt(6): equal on
    white noise, while on a smooth curve sampled in few points (a frequency sweep) the second
    differences cancel the slope that the first ones mistake for noise. Long series use about 200,000
    evenly spaced samples, which fixes the estimate to well under 1 %.
    """
    stride = max(1, values.size // NOISE_PAIRS)
    later = values[1::stride]
    steps = np.abs(later - values[::stride][: later.size])
    steps = steps[np.isfinite(steps)]
    if steps.size == 0:
        return 0.0
    sigma = MAD_TO_SIGMA * float(np.median(steps)) / np.sqrt(2.0)
    if sigma == 0:
        return 1.2533 * float(steps.mean()) / np.sqrt(2.0)
    last = values[2::stride]
    bends = np.abs(last - 2 * values[1::stride][: last.size] + values[::stride][: last.size])
    bends = bends[np.isfinite(bends)]
    curved = MAD_TO_SIGMA * float(np.median(bends)) / np.sqrt(6.0) if bends.size else 0.0
    return min(sigma, curved) if curved > 0 else sigma


def snr_db(variance: float, sigma: float) -> float:
    """Signal-to-noise ratio in dB: the variance not explained by the noise, over the noise variance."""
    if sigma <= 0:
        return SNR_CAP_DB if variance > 0 else SNR_FLOOR_DB
    ratio = variance / sigma**2 - 1.0
    return float(np.clip(10 * np.log10(max(ratio, 10 ** (SNR_FLOOR_DB / 10))), SNR_FLOOR_DB, SNR_CAP_DB))


def repeated_runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start index and length of every run of 2+ identical consecutive values (NaN never repeats)."""
    same = values[1:] == values[:-1]
    if not same.any():
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    edges = np.diff(same.astype(np.int8), prepend=0, append=0)
    starts = np.flatnonzero(edges == 1)
    return starts, np.flatnonzero(edges == -1) - starts + 1


def typical_repeat_share(values: np.ndarray) -> float:
    """Chance that a sample repeats the previous one in a typical stretch of the channel.

    Per block (about 32), the share of samples at the block's most common value whose next sample is
    the same (the chance to stay at the baseline level of a quantized trace); the median over blocks.
    """
    finite = values[np.isfinite(values)]
    return _repeat_share(finite, finite[1:] == finite[:-1])


def _repeat_share(finite: np.ndarray, same: np.ndarray) -> float:
    """:func:`typical_repeat_share` of the finite values, given ``same = finite[1:] == finite[:-1]``."""
    if finite.size < 2:
        return 0.0
    block = max(REPEAT_MIN_BLOCK, finite.size // REPEAT_BLOCKS)
    shares = []
    for start in range(0, finite.size - 1, block):
        head = finite[start: min(start + block, finite.size - 1)]  # the block's samples that have a next one
        at_mode = head == most_common(head)
        shares.append(float(same[start: start + head.size][at_mode].mean()))
    return float(np.median(shares))


def most_common(values: np.ndarray) -> float:
    """The most common of the finite ``values`` (the smallest of equally common ones), without sorting them all.

    Equal values share a bucket of a hash of their bits (-0.0 counted as 0.0), so only values whose bucket
    holds another value can repeat: only those are sorted and counted. When none repeats, the minimum.
    """
    width = min(HASH_MAX_BITS, values.size.bit_length() + 3)
    bits = np.add(values, 0.0, dtype=np.float64).view(np.uint64)  # x + 0.0 is x, except that -0.0 becomes 0.0
    buckets = ((bits * _HASH_MULTIPLIER) >> np.uint64(64 - width)).astype(np.intp)
    shared = np.bincount(buckets, minlength=1 << width)[buckets] > 1
    if shared.any():
        levels, counts = np.unique(values[shared], return_counts=True)
        if counts.max() > 1:
            return levels[np.argmax(counts)]
    return values.min()


def quantization_run(values: np.ndarray, minimum: int) -> int:
    """Shortest run of identical values that quantization does not explain (see the module docstring)."""
    return _quantization_run(typical_repeat_share(values), values.size, minimum)


def _quantization_run(share: float, size: int, minimum: int) -> int:
    if not 0.0 < share < 1.0:
        return minimum
    expected = 1.0 + math.log(RUN_CHANCE / max(1, size)) / math.log(share)
    return max(minimum, math.ceil(expected))


def is_held(name: str, values: np.ndarray) -> bool:
    """A command channel: named as a setpoint/target, or stepping between a few held levels."""
    if HELD_NAME.search(name):
        return True
    finite = values[np.isfinite(values)]
    return _held_levels(finite, finite[1:] == finite[:-1])


def _held_levels(finite: np.ndarray, same: np.ndarray) -> bool:
    """Few held levels: at least 2 distinct values, at most 5 % of the samples, >= 90 % of pairs equal."""
    if finite.size < 3:
        return False
    equal = float(same.mean())
    if equal < HELD_MIN_EQUAL:
        return False
    distinct = np.unique(np.concatenate([finite[:1], finite[1:][~same]])).size  # every level starts a run
    return 2 <= distinct <= max(2, HELD_MAX_DISTINCT * finite.size)


def stuck_samples(values: np.ndarray, params: QualityParams, *, min_run: int | None = None,
                  counting: bool = False) -> tuple[int, int]:
    """Samples in clipped runs (at the exact max/min) and in flat-line runs (elsewhere).

    ``min_run``: the quantization floor on run lengths (default: none beyond the params' minimums);
    ``counting``: the channel holds counts, so zero runs that Poisson statistics or a discriminator explain
    are not counted.
    """
    starts, lengths = repeated_runs(values)
    if starts.size == 0:
        return 0, 0
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    run_values = values[starts]
    at_extreme = ((run_values == low) | (run_values == high)) & (high > low)
    floor = min_run or 0
    counted = np.where(at_extreme, lengths >= max(floor, params.clipping_min_samples),
                       lengths >= max(floor, params.flatline_min_samples))
    if counting and counted.any():
        tested = np.flatnonzero(counted)
        counted[tested[explained_zero_runs(values, starts[tested], lengths[tested], RUN_CHANCE)]] = False
    return int(lengths[at_extreme & counted].sum()), int(lengths[~at_extreme & counted].sum())


def _channel_stats(name: str, values: np.ndarray, summary: dict[str, Any], by_design: int,
                   params: QualityParams) -> ChannelStats:
    is_finite = np.isfinite(values)
    finite = values if is_finite.all() else values[is_finite]
    same = finite[1:] == finite[:-1]  # shared by the constant, held-level and quantization checks
    missing = max(0, summary["missing"] - by_design)
    if finite.size >= params.flatline_min_samples and same.all():
        kind = "zero" if finite[0] == 0 else "setting" if HELD_NAME.search(name) else "dead"
        return ChannelStats(name, missing, 0, 0, None, None, constant=kind, by_design=by_design, count=finite.size)
    held = bool(HELD_NAME.search(name)) or _held_levels(finite, same)
    counting = is_counting(finite)
    min_run = _quantization_run(_repeat_share(finite, same), values.size,
                                min(params.clipping_min_samples, params.flatline_min_samples))
    clipped, flat = (0, 0) if held else stuck_samples(values, params, min_run=min_run, counting=counting)
    short = finite.size < MIN_SNR_SAMPLES
    if held or short:
        return ChannelStats(name, missing, clipped, flat, None, None, held, min_run, short=short and not held,
                            by_design=by_design, counting=counting, count=finite.size)
    sigma = noise_sigma(finite)
    return ChannelStats(name, missing, clipped, flat, sigma, snr_db(summary["variance"], sigma), held, min_run,
                        by_design=by_design, counting=counting, count=finite.size)


def _time_metrics(frame: pl.DataFrame, params: QualityParams) -> dict[str, float | int]:
    """Median step, gaps (count, longest, share of the duration) and duplicate timestamps."""
    if "time_s" not in frame.columns or frame.height < 2:
        return {"median_step_s": 0.0, "gap_count": 0, "max_gap_s": 0.0, "gap_time_ratio": 0.0,
                "duplicate_timestamps": 0}
    time_s = frame["time_s"].cast(pl.Float64).to_numpy()
    steps = np.diff(time_s)
    median = _median_step(steps)
    gaps, usual = time_gaps(steps, median, params.gap_factor)
    duration = float(time_s[-1] - time_s[0])
    sorted_time = bool((steps >= 0).all())
    duplicates = int((steps == 0).sum()) if sorted_time else frame.height - frame["time_s"].n_unique()
    return {
        "median_step_s": median, "gap_count": int(gaps.size),
        "max_gap_s": float(gaps.max()) if gaps.size else 0.0,
        "gap_time_ratio": float((gaps - usual).sum() / duration) if duration > 0 else 0.0,
        "duplicate_timestamps": duplicates,
    }


def _median_step(steps: np.ndarray) -> float:
    """Median of the forward time steps (about 200,000 evenly spaced ones for long series)."""
    sample = steps[:: max(1, steps.size // NOISE_PAIRS)]
    forward = sample[sample > 0]
    return float(np.median(forward)) if forward.size else 0.0


def _channel_summaries(frame: pl.DataFrame, channels: list[str]) -> dict[str, dict[str, Any]]:
    """Missing count, finite count and variance of every channel, in one pass."""
    if not channels:
        return {}
    values = [pl.col(c).cast(pl.Float64).fill_nan(None) for c in channels]
    row = frame.select(
        *[v.is_null().sum().alias(f"missing {i}") for i, v in enumerate(values)],
        *[v.count().alias(f"count {i}") for i, v in enumerate(values)],
        *[v.var(ddof=0).alias(f"variance {i}") for i, v in enumerate(values)],
    ).row(0, named=True)
    return {c: {key: row[f"{key} {i}"] or 0 for key in ("missing", "count", "variance")}
            for i, c in enumerate(channels)}


def _judged_channel(stats: list[ChannelStats], main: str) -> ChannelStats | None:
    """The channel whose SNR is judged: the main one, or when it has nothing to measure (constant, a held
    level), the first channel that has; None when no channel has an SNR."""
    first = next(s for s in stats if s.name == main)
    if first.snr_db is not None or first.short:
        return first
    return next((s for s in stats if s.snr_db is not None), None)


def _snr_penalty(snr: float, params: QualityParams) -> float:
    return float(np.clip((params.min_snr_db + SNR_MARGIN_DB - snr) / SNR_SPAN_DB, 0.0, 1.0))


def _metrics(stats: list[ChannelStats], judged: ChannelStats | None, time_metrics: dict[str, float | int],
             rows: int, duplicate_rows_dropped: int, notes: int) -> dict[str, float | int]:
    cells = max(1, rows * len(stats))
    share = max(1, len(stats))
    metrics: dict[str, float | int] = {
        "rows": rows, "channels": len(stats),
        "missing_ratio": sum(s.missing for s in stats) / cells,
        "missing_by_design_ratio": sum(s.by_design for s in stats) / cells,
        "clipped_ratio": sum(s.clipped for s in stats) / cells,
        "flatline_ratio": sum(s.flat for s in stats) / cells,
        "constant_ratio": sum(s.constant == "dead" for s in stats) / share,
        "unused_ratio": sum(s.constant in ("zero", "setting") for s in stats) / share,
        "all_constant": int(all(s.constant for s in stats)),
        **time_metrics, "duplicate_rows": duplicate_rows_dropped, "reader_notes": notes,
    }
    snrs = [s.snr_db for s in stats if s.snr_db is not None]
    if snrs:
        metrics["snr_db"] = min(snrs)
    if judged is not None and judged.snr_db is not None:
        metrics["main_snr_db"] = judged.snr_db
    metrics["main_too_short"] = int(judged is not None and judged.short)
    for s in stats:
        metrics[f"missing_ratio.{s.name}"] = s.missing / max(1, rows)
        metrics[f"clipped_ratio.{s.name}"] = s.clipped / max(1, rows)
        metrics[f"flatline_ratio.{s.name}"] = s.flat / max(1, rows)
        metrics[f"min_stuck_run.{s.name}"] = s.min_run
        if s.by_design:
            metrics[f"missing_by_design.{s.name}"] = s.by_design / max(1, rows)
        if s.held:
            metrics[f"held_level.{s.name}"] = 1
        if s.counting:
            metrics[f"counting.{s.name}"] = 1
        if s.noise is not None and s.snr_db is not None:
            metrics[f"noise.{s.name}"] = s.noise
            metrics[f"snr_db.{s.name}"] = s.snr_db
    return metrics


def _noisy_sides(stats: list[ChannelStats], judged: ChannelStats | None, params: QualityParams) -> list[ChannelStats]:
    return [s for s in stats if s is not judged and s.snr_db is not None and s.snr_db < params.min_snr_db]


def _flags(metrics: dict[str, float | int], noisy_sides: list[ChannelStats], params: QualityParams) -> list[str]:
    raised = {
        "missing_values": metrics["missing_ratio"] > params.max_missing_ratio,
        "low_snr": "main_snr_db" in metrics and metrics["main_snr_db"] < params.min_snr_db,
        "too_short_to_judge": metrics["main_too_short"] > 0,
        "noisy_side_channels": bool(noisy_sides),
        "clipping": metrics["clipped_ratio"] > 0,
        "flatline": metrics["flatline_ratio"] > 0,
        "constant_channels": metrics["constant_ratio"] > 0 or metrics["all_constant"] > 0,
        "unused_channels": metrics["unused_ratio"] > 0 and not metrics["all_constant"],
        "multi_rate_channels": metrics["missing_by_design_ratio"] > 0,
        "sampling_gaps": metrics["gap_count"] > 0,
        "duplicate_timestamps": metrics["duplicate_timestamps"] + metrics["duplicate_rows"] > 0,
        "reader_notes": metrics["reader_notes"] > 0,
    }
    return [flag for flag in FLAGS if raised[flag]]


def _penalties(metrics: dict[str, float | int], stats: list[ChannelStats], judged: ChannelStats | None,
               main: str, params: QualityParams) -> dict[str, float]:
    """Each check's penalty in 0..1 (see the module docstring)."""
    rows = int(metrics["rows"])
    repeated = metrics["duplicate_timestamps"] + metrics["duplicate_rows"]
    duplicated = repeated / max(1, rows + metrics["duplicate_rows"])
    shares = {
        "missing_values": metrics["missing_ratio"], "clipping": metrics["clipped_ratio"],
        "flatline": metrics["flatline_ratio"], "sampling_gaps": metrics["gap_time_ratio"],
        "duplicate_timestamps": duplicated,
    }
    penalties = {name: min(1.0, SHARE_PENALTY * float(share)) for name, share in shares.items()}
    penalties["low_snr"] = _snr_penalty(float(metrics.get("main_snr_db", SNR_CAP_DB)), params)
    sides = [_snr_penalty(s.snr_db, params) for s in stats if s is not judged and s.snr_db is not None]
    penalties["noisy_side_channels"] = SIDE_SNR_WEIGHT * float(np.mean(sides)) if sides else 0.0
    main_dead = next(s for s in stats if s.name == main).constant == "dead"
    nothing = metrics["all_constant"] or main_dead  # nothing measured on the channel(s) that matter
    penalties["constant_channels"] = 1.0 if nothing else CONSTANT_PENALTY * float(metrics["constant_ratio"])
    penalties["reader_notes"] = min(NOTES_MAX_PENALTY, NOTE_PENALTY * float(metrics["reader_notes"]))
    return penalties


def quality_score(penalties: dict[str, float]) -> float:
    """Product of ``1 - penalty``: 1.0 for a clean series, never raised by a defect."""
    return float(np.prod([1.0 - p for p in penalties.values()]))


def _pct(share: float) -> str:
    return f"{100 * share:.1f}%"


def _worst_channels(stats: list[ChannelStats], field: str, rows: int) -> str:
    shares = sorted(((getattr(s, field) / max(1, rows), s.name) for s in stats if getattr(s, field)), reverse=True)
    return ", ".join(f"{name} {_pct(share)}" for share, name in shares[:5])


def _names(stats: list[ChannelStats], limit: int = 8) -> str:
    names = [s.name for s in stats]
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _runs_rule(stats: list[ChannelStats], minimum: int) -> str:
    raised = [f"{s.name} {s.min_run}" for s in stats if s.min_run > minimum]
    return f"; longer where the channel is quantized ({', '.join(raised)} samples)" if raised else ""


@dataclass(frozen=True)
class _Context:
    """What the explanations need besides the metrics."""

    stats: list[ChannelStats]
    judged: ChannelStats | None
    main: str
    noisy_sides: list[ChannelStats]
    params: QualityParams
    notes: Sequence[str]


def _explain_channels(flag: str, m: dict[str, float | int], ctx: _Context) -> str:
    """The sentences of the per-channel SNR, constant and sampling-pattern flags."""
    params, judged = ctx.params, ctx.judged
    if flag == "low_snr" and judged is not None:
        which = (f"the main channel {judged.name}" if judged.name == ctx.main else
                 f"{judged.name} (judged instead of the main channel {ctx.main}, which holds one value)")
        return (f"Signal-to-noise ratio of {which} is {judged.snr_db:.1f} dB, below "
                f"the {params.min_snr_db:g} dB minimum (noise {judged.noise:.3g} per sample): the signal barely "
                "rises above its noise.")
    if flag == "too_short_to_judge" and judged is not None:
        return (f"The main channel {judged.name} has {judged.count} values, fewer than {MIN_SNR_SAMPLES}: too few to "
                "tell its noise from its signal (the noise estimate's 95 % range spans more than 8 dB), so its SNR is "
                "not judged.")
    if flag == "noisy_side_channels":
        listed = ", ".join(f"{s.name} {s.snr_db:.1f} dB" for s in ctx.noisy_sides[:8])
        main = f"; the main channel {judged.name} is the one judged" if judged is not None else ""
        return (f"Side channel(s) below the {params.min_snr_db:g} dB SNR minimum: {listed}. Noise only, or held "
                f"steady by the instrument (a raw AC component, a controlled current){main}, so they lower the "
                "score only a little.")
    if flag == "unused_channels":
        zero = [s for s in ctx.stats if s.constant == "zero"]
        setting = [s for s in ctx.stats if s.constant == "setting"]
        parts = ([f"{_names(zero)} read exactly 0 throughout (an unused slot, or a quantity that is zero in this "
                  "run: no current at rest, so no charge)"] if zero else []) + \
                ([f"{_names(setting)} hold a setting (named as one)"] if setting else [])
        return "; ".join(parts) + ". Not counted as defects; if one should have measured something, check its sensor."
    if flag == "multi_rate_channels":
        partial = sorted((s for s in ctx.stats if s.by_design), key=lambda s: -s.by_design)
        return (f"{_names(partial)} have values only in part of the rows by design: recorded every k-th row, or only "
                "where another set of columns is empty (a second technique or record type). These empty cells "
                f"({_pct(m['missing_by_design_ratio'])} of all values) are not counted as missing.")
    if m["all_constant"]:
        return (f"Every channel ({_names(ctx.stats)}) holds one value through the whole run: nothing was measured, "
                "or the sensors are dead.")
    dead = [s for s in ctx.stats if s.constant == "dead"]
    main = (f" The main channel {ctx.main} is one of them: the run's own measurement is missing."
            if any(s.name == ctx.main for s in dead) else "")
    return (f"{_names(dead)} hold(s) one value (not 0) through the whole run ({_pct(m['constant_ratio'])} of the "
            f"channels): a dead sensor, or a setting whose name does not say so; no noise or SNR can be measured "
            f"there.{main}")


def _explain(flag: str, m: dict[str, float | int], ctx: _Context) -> str:
    rows, params, stats = int(m["rows"]), ctx.params, ctx.stats
    if flag in ("low_snr", "too_short_to_judge", "noisy_side_channels", "unused_channels", "multi_rate_channels",
                "constant_channels"):
        return _explain_channels(flag, m, ctx)
    if flag == "reader_notes":
        return f"The reader noted {len(ctx.notes)} thing(s) that may make the numbers wrong: " + "; ".join(ctx.notes)
    if flag == "missing_values":
        return (f"{_pct(m['missing_ratio'])} of the values are missing (limit {_pct(params.max_missing_ratio)}); "
                f"by channel: {_worst_channels(stats, 'missing', rows)}.")
    if flag == "clipping":
        counting = ("; zero runs of counting data only where Poisson statistics do not explain them"
                    if any(s.counting and s.clipped for s in stats) else "")
        return (f"Runs of {params.clipping_min_samples}+ samples at a channel's exact maximum or minimum"
                f"{_runs_rule(stats, params.clipping_min_samples)}{counting} cover {_pct(m['clipped_ratio'])} of the "
                f"values ({_worst_channels(stats, 'clipped', rows)}): the detector was probably saturated (clipped) "
                "there.")
    if flag == "flatline":
        return (f"Runs of {params.flatline_min_samples}+ identical consecutive values"
                f"{_runs_rule(stats, params.flatline_min_samples)} cover {_pct(m['flatline_ratio'])} of the values "
                f"({_worst_channels(stats, 'flat', rows)}): a stuck sensor or a frozen export.")
    if flag == "sampling_gaps":
        return (f"{m['gap_count']} gap(s) in time: steps longer than {params.gap_factor:g} x the usual step around "
                f"them (median {m['median_step_s']:.3g} s), the longest {m['max_gap_s']:.3g} s "
                f"({_pct(m['gap_time_ratio'])} of the run's duration has no samples).")
    return (f"{m['duplicate_timestamps'] + m['duplicate_rows']} row(s) repeated a timestamp "
            f"({m['duplicate_rows']} dropped while parsing, {m['duplicate_timestamps']} still in the series).")


def _by_design(frame: pl.DataFrame, channels: list[str], summaries: dict[str, dict[str, Any]]) -> dict[str, int]:
    """Empty cells that are each channel's sampling pattern (only computed when some cell is empty)."""
    if not any(summaries[c]["missing"] for c in channels):
        return dict.fromkeys(channels, 0)
    present = np.vstack([np.isfinite(frame[c].cast(pl.Float64).to_numpy()) for c in channels])
    return dict(zip(channels, missing_by_design(present).tolist()))


def assess_quality(frame: pl.DataFrame, channels: list[str], params: QualityParams, *,
                   main: str | None = None, duplicate_rows_dropped: int = 0,
                   reader_notes: Sequence[str] | None = None) -> QualityReport:
    """Quality flags, metrics and a 0-1 score of a parsed series (see the module docstring).

    ``main``: the channel the run is about (the reader's main channel, the peak channel; default: the
    first), the one whose SNR is judged; ``duplicate_rows_dropped``: rows the parser removed because they
    repeated a timestamp; ``reader_notes``: what the reader noted about the file (each lowers the score).
    """
    notes = list(reader_notes or [])
    absent = [c for c in channels if c not in frame.columns]
    if absent:
        raise ValueError(f"assess_quality: channel(s) {', '.join(absent)} not in the series; "
                         f"it has {', '.join(frame.columns)}")
    if main is not None and main not in channels:
        raise ValueError(f"assess_quality: main channel {main!r} is not one of the channels {', '.join(channels)}")
    if frame.height == 0 or not channels:
        return QualityReport(0.0, ["no_data"], {"rows": frame.height, "channels": len(channels)},
                             {"no_data": "The series has no rows or no channel: nothing was measured or the file "
                                         "was cut off."})
    main = main or channels[0]
    summaries = _channel_summaries(frame, channels)
    by_design = _by_design(frame, channels, summaries)
    stats = [_channel_stats(c, frame[c].cast(pl.Float64).to_numpy(), summaries[c], by_design[c], params)
             for c in channels]
    judged = _judged_channel(stats, main)
    metrics = _metrics(stats, judged, _time_metrics(frame, params), frame.height, int(duplicate_rows_dropped),
                       len(notes))
    ctx = _Context(stats, judged, main, _noisy_sides(stats, judged, params), params, notes)
    flags = _flags(metrics, ctx.noisy_sides, params)
    penalties = _penalties(metrics, stats, judged, main, params)
    explanations = {flag: _explain(flag, metrics, ctx) for flag in flags}
    metrics.update({f"penalty.{name}": round(value, 6) for name, value in penalties.items()})
    return QualityReport(quality_score(penalties), flags, metrics, explanations)
