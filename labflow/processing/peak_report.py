"""What a recipe finds in a parsed file: peaks on the file's own axis and the quality verdict.

Used by ``labflow inspect FILE --peaks``: the recipe is the one named, else the one the recipe book picks
for the file's axis kind; the main channel is cleaned as the pipeline cleans it (when the recipe's peaks
use the cleaned signal) and searched with the recipe's peak method; the quality report covers the main
block's signal channels with the reader's notes, its SNR judged on the main channel.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from labflow.processing.peaks import detect_peaks
from labflow.processing.quality import assess_quality
from labflow.processing.recipes import Recipe
from labflow.processing.series import ParsedFile
from labflow.processing.smoothing import clean_channel
from labflow.processing.spectra import analyze_spectrum

PEAK_FIELDS = ("position", "height", "fwhm", "area", "left", "right", "snr", "shoulder")


def quality_frame(parsed: ParsedFile) -> tuple[pl.DataFrame, list[str]]:
    """The main block's signal channels (first of each name), with ``time_s`` when the axis is time.

    Only a time axis is a clock: a frequency sweep or a spectrum's axis is not checked for gaps.
    """
    block = parsed.block
    columns: dict[str, np.ndarray] = {}
    if block.axis.kind == "time":
        columns["time_s"] = block.axis.values
    for channel in block.signals:
        columns.setdefault(channel.name, channel.values)
    return pl.DataFrame(columns), [name for name in columns if name != "time_s"]


def quality_main(parsed: ParsedFile, channels: list[str]) -> str | None:
    """The channel whose SNR the quality verdict judges: the reader's main channel when it is checked."""
    main = parsed.main_channel
    return main.name if main is not None and main.name in channels else None


def _peaks(x: np.ndarray, values: np.ndarray, recipe: Recipe) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    params = recipe.peaks
    if params.method == "spectrum":
        result = analyze_spectrum(x, values, **params.spectrum_options())
        rows = result.table.select([c for c in PEAK_FIELDS if c in result.table.columns]).to_dicts()
        return rows, dict(result.settings)
    found = detect_peaks(x, values, params)
    rows = found.table.select(pl.col("time_s").alias("position"), "height", pl.col("width_s").alias("fwhm"),
                              "area").to_dicts()
    return rows, dict(found.thresholds)


def peak_report(parsed: ParsedFile, recipe: Recipe) -> dict[str, Any]:
    """Peaks of the main channel on the file's axis (position, height, FWHM, area) and the quality verdict."""
    channel = parsed.main_channel
    axis = parsed.axis
    frame, channels = quality_frame(parsed)
    quality = assess_quality(frame, channels, recipe.quality, main=quality_main(parsed, channels),
                             reader_notes=parsed.notes) if channels else None
    described: dict[str, Any] = {"recipe": recipe.id, "recipe_version": recipe.version,
                                 "axis": {"kind": axis.kind, "name": axis.name, "unit": axis.unit},
                                 "quality": quality.to_dict() if quality else None}
    if channel is None:
        return {**described, "channel": None, "peaks": [], "settings": {"note": "the file has no signal channel"}}
    values = channel.values
    if recipe.peaks.source == "cleaned":
        values = clean_channel(values, recipe.smoothing, x=axis.values)
    rows, settings = _peaks(axis.values, values, recipe)
    return {**described, "channel": {"name": channel.name, "unit": channel.unit}, "peaks": rows,
            "settings": settings}


def peaks_as_text(described: dict[str, Any]) -> str:
    """The peak table and quality verdict for people, positions in the axis' unit."""
    axis = described["axis"]
    unit = f" ({axis['unit']})" if axis["unit"] else ""
    channel = described["channel"]
    out = [f"  recipe: {described['recipe']} v{described['recipe_version']} (axis kind {axis['kind']})"]
    if channel is None:
        out.append("  peaks: none (no signal channel)")
    else:
        out.append(f"  peaks on {channel['name']} along {axis['name']}{unit}: {len(described['peaks'])}")
        out.append(f"    {'position':>14}  {'height':>12}  {'FWHM':>10}  {'area':>12}")
        for row in described["peaks"]:
            mark = "  shoulder" if row.get("shoulder") else ""
            out.append(f"    {row['position']:>14.6g}  {row['height']:>12.5g}  {row['fwhm']:>10.4g}  "
                       f"{row['area']:>12.5g}{mark}")
        out += [f"    {k}: {v}" for k, v in described["settings"].items()]
    quality = described["quality"]
    if quality is not None:
        out.append(f"  quality: {quality['score']:.2f}, flags: {', '.join(quality['flags']) or 'none'}")
        out += [f"    - {flag}: {why}" for flag, why in quality["explanations"].items()]
    return "\n".join(out)
