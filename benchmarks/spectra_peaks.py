"""Peaks of real spectra and a chromatogram on their own axis, against the reference lines of the MANIFEST.

    python benchmarks/spectra_peaks.py [--corpus DIR] [--json PATH]

Default corpus: ``instruments-dev/`` under ``$LABFLOW_SHARED_DATA`` (else ``../shared/data`` beside the
project). Each file is read by the project's readers (``labflow.processing.readers``), its recipe is the
one the recipe book chooses from the axis kind the reader found (the HPLC file's axis is time, so it is
named: the ``chromatograph`` recipe, as its instrument would have it), and its main channel goes through
``analyze_spectrum`` with the recipe's peak parameters — no per-file setting.

Reference lines and tolerances (from ``MANIFEST.md``; every tolerance is in the axis' unit):

- ``raman_neegala_PST532_SEX139.txt``: polystyrene lines (ramanchada2 ``PST_RS_dict``), ±8 cm-1
  (the file's own shift calibration is about 3 cm-1 off at 1600-3000 cm-1);
- ``raman_rruff_anatase_R060277.txt``: anatase 144, 197, 399, 516, 639 cm-1 (literature; 513/519 is
  one unresolved band), ±8 cm-1;
- ``gamma_ortec_NAA_pottery.Spe``: 12 activation lines (Eu-152, Cs-134, Sc-46, Co-60) on the file's
  energy calibration, ±1.5 keV (HPGe);
- ``gamma_nai_detector.spe``: 609.32 and 1460.82 keV at becquerel's gain 2.02 keV/channel (the file has
  no calibration; channels 301.6 and 723.2), ±12 channels (NaI resolution ~7 % at 662 keV);
- ``hplc_shimadzu_labsolutions.txt``: hplc-py's fitted retention times, ±0.3 min: they are the
  locations of fitted skew-normal shapes, which sit up to 0.27 min before the apex of a tailing peak
  (the six apexes are at 10.98, 13.44, 14.25, 15.70, 16.72, 17.46 min, at least 0.7 min apart).

Per file: reference lines found (a detection within the tolerance), detections, and their ratio (target:
every line found, detections <= 3 x lines). Beside it, in the same run, a plain baseline: ``find_peaks``
on the raw signal with prominence >= 5 x the global noise (MAD of differences), no baseline.

For a gamma spectrum on an energy axis, the detections beyond the reference list are also checked against
``KNOWN_GAMMA_LINES`` (the usual lines of the activation products and natural background, keV, rounded from
ENSDF/NNDC) within the same tolerance: ``explained`` counts the detections that are a known line. With 73
library lines, a ±1.5 keV window around each covers about 8 % of 0-2700 keV, so a random position is
"explained" about once in 12.

``--json`` keys: ``files`` (per file: name, recipe, axis, lines, found, detections, ratio, missed,
naive_found, naive_detections), ``all_lines_found``, ``max_detection_ratio``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
from scipy.signal import find_peaks

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import PROJECT_ROOT, corpus_main, print_table  # noqa: E402
from labflow.processing.baselines import noise_sigma  # noqa: E402
from labflow.processing.readers.registry import read_file  # noqa: E402
from labflow.processing.spectra import analyze_spectrum  # noqa: E402
from labflow.processing.recipes import RecipeBook  # noqa: E402

POLYSTYRENE = (620.9, 795.8, 1001.4, 1031.8, 1155.3, 1450.5, 1583.1, 1602.3, 2852.4, 2904.5, 3054.3)
NAA_LINES = (121.9, 244.9, 344.4, 779.4, 964.4, 1112.5, 1408.6, 605.0, 796.1, 889.3, 1173.5, 1333.1)
NAI_GAIN_KEV = 2.02
REFERENCES: dict[str, tuple[tuple[float, ...], float, str | None]] = {
    "raman_neegala_PST532_SEX139.txt": (POLYSTYRENE, 8.0, None),
    "raman_rruff_anatase_R060277.txt": ((144.0, 197.0, 399.0, 516.0, 639.0), 8.0, None),
    "gamma_ortec_NAA_pottery.Spe": (tuple(sorted(NAA_LINES)), 1.5, None),
    "gamma_nai_detector.spe": ((609.32 / NAI_GAIN_KEV, 1460.82 / NAI_GAIN_KEV), 12.0, None),
    "hplc_shimadzu_labsolutions.txt": ((10.90, 13.17, 14.45, 15.53, 16.52, 17.29), 0.3, "chromatograph"),
}
NAIVE_SNR = 5.0
KNOWN_GAMMA_LINES = (
    # Eu-152
    121.78, 244.70, 344.28, 367.79, 411.12, 443.96, 586.27, 656.49, 688.67, 778.90, 810.45, 867.38, 919.33,
    964.08, 1005.27, 1085.84, 1089.74, 1112.08, 1212.95, 1299.14, 1408.01, 1457.64, 1528.10,
    # Eu-154
    123.07, 247.93, 591.76, 692.42, 723.30, 756.80, 873.18, 996.29, 1004.76, 1274.43, 1494.05, 1596.48,
    # Cs-134, Co-60, Sc-46, Fe-59, Zn-65, Cr-51, Hf-181, La-140, Sb-124
    563.25, 569.33, 604.72, 795.86, 801.95, 1167.97, 1365.19, 1173.23, 1332.49, 889.28, 1120.55, 1099.25,
    1291.59, 1115.54, 320.08, 133.02, 482.18, 487.02, 1596.21, 602.73, 1690.97,
    # natural background: K-40, Th-232 chain, U-238 chain, annihilation
    1460.82, 238.63, 583.19, 727.33, 860.56, 911.20, 968.97, 2614.51, 295.22, 351.93, 609.31, 1764.49, 511.00,
    # lead K X-rays (shielding)
    72.80, 74.97, 84.94, 87.30,
)


def found_lines(positions: np.ndarray, lines: tuple[float, ...], tolerance: float) -> list[bool]:
    """Whether each reference line has a detection within the tolerance."""
    return [bool(positions.size) and bool(np.min(np.abs(positions - line)) <= tolerance) for line in lines]


def naive_positions(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    peaks, _ = find_peaks(y, prominence=NAIVE_SNR * noise_sigma(y))
    return x[peaks]


def score_file(path: Path, book: RecipeBook) -> dict[str, Any]:
    lines, tolerance, named = REFERENCES[path.name]
    parsed = read_file(path.read_bytes(), path.name)
    axis, channel = parsed.axis, parsed.main_channel
    recipe = book.for_run(instrument=None, requested=named, axis_kind=axis.kind)
    result = analyze_spectrum(axis.values, channel.values, **recipe.peaks.spectrum_options())
    positions = result.table["position"].to_numpy()
    hits = found_lines(positions, lines, tolerance)
    naive = naive_positions(axis.values, channel.values)
    return {
        "name": path.name, "recipe": recipe.id, "axis": f"{axis.kind} ({axis.unit or 'no unit'})",
        "channel": channel.name, "lines": len(lines), "tolerance": tolerance, "found": sum(hits),
        "detections": int(positions.size), "ratio": round(positions.size / len(lines), 2),
        "missed": [line for line, hit in zip(lines, hits) if not hit],
        "naive_found": sum(found_lines(naive, lines, tolerance)), "naive_detections": int(naive.size),
        "baseline": result.settings.get("baseline", "none"),
        "explained": explained(positions, tolerance) if axis.kind == "energy" and axis.unit == "keV" else None,
    }


def explained(positions: np.ndarray, tolerance: float) -> int:
    """How many detections lie within the tolerance of a known gamma line."""
    library = np.asarray(KNOWN_GAMMA_LINES)
    return int(sum(np.min(np.abs(library - p)) <= tolerance for p in positions))


def run(corpus: Path) -> dict[str, Any]:
    book = RecipeBook.from_dir(PROJECT_ROOT / "recipes")
    files = [score_file(corpus / name, book) for name in REFERENCES if (corpus / name).is_file()]
    if not files:
        raise SystemExit(f"none of the reference files is in {corpus}")
    headers = ["file", "axis", "recipe", "baseline", "tol", "found", "detections", "ratio", "naive found",
               "naive det.", "missed"]
    print_table(headers, [[f["name"], f["axis"], f["recipe"], f["baseline"], f["tolerance"],
                           f"{f['found']}/{f['lines']}", f["detections"], f["ratio"],
                           f"{f['naive_found']}/{f['lines']}", f["naive_detections"],
                           ", ".join(f"{m:g}" for m in f["missed"]) or "-"] for f in files])
    print("\ntarget: every reference line found, detections <= 3 x lines")
    for f in files:
        if f["explained"] is not None:
            print(f"{f['name']}: {f['explained']} of {f['detections']} detections are known gamma lines "
                  f"(activation products and natural background, within {f['tolerance']:g} keV)")
    return {"files": files, "all_lines_found": all(f["found"] == f["lines"] for f in files),
            "max_detection_ratio": max(f["ratio"] for f in files)}


def main() -> int:
    return corpus_main(__doc__.splitlines()[0], run)


if __name__ == "__main__":
    raise SystemExit(main())
