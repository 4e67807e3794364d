"""Realistic demo instrument files (several export dialects, with sidecars) for the inbox."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from labflow.store.atomic import write_atomic

OPERATORS = ("alice", "bob", "chen", "dana")
MATERIALS = ("PLA-blend-A", "PLA-blend-B", "TiO2-anatase", "Cu-MOF-74")


DEMO_CAMPAIGN = "hplc-yield"  # the HPLC runs form one optimisation campaign


@dataclass(frozen=True)
class DemoFile:
    """A demo file to write: relative path in the inbox, its bytes and an optional sidecar."""

    relative_path: str
    data: bytes
    sidecar: dict | None = None


def _gaussians(t: np.ndarray, centres: list[float], heights: list[float], sigma: float) -> np.ndarray:
    return sum(h * np.exp(-0.5 * ((t - c) / sigma) ** 2) for c, h in zip(centres, heights))


def chromatogram(rng: np.random.Generator, index: int, started: datetime) -> DemoFile:
    """HPLC export: metadata lines, ``;`` delimiter, decimal commas, a units row, Latin-1 (µ)."""
    t = np.round(np.arange(0, 20, 0.02), 3)
    temperature = float(rng.uniform(25, 60))
    flow = float(rng.uniform(0.5, 1.5))
    main = 40 + 2.0 * temperature - 15 * (flow - 1.0) ** 2 + rng.normal(0, 2)
    signal = _gaussians(t, [3.1, 7.4, 11.8], [main, main / 4, main / 9], 0.12)
    signal += 0.4 * t / 20 + rng.normal(0, 0.15, t.size)
    lines = [f"Instrument;HPLC-01", f"Operator;{OPERATORS[index % 4]}", f"Sample;{MATERIALS[index % 4]}",
             f"Date;{started:%Y-%m-%d %H:%M:%S}", "", "Time;Absorbance", "min;µAU"]
    lines += [f"{a:.3f};{b:.4f}".replace(".", ",") for a, b in zip(t, signal)]
    sidecar = {"experiment_id": f"EXP-{100 + index // 3}", "operator": OPERATORS[index % 4],
               "material": MATERIALS[index % 4], "instrument": "hplc-01", "started_at": started.isoformat(),
               "params": {"campaign": DEMO_CAMPAIGN, "column_temperature_c": round(temperature, 2),
                          "flow_ml_min": round(flow, 3)}}
    return DemoFile(f"hplc-01/run_{index:03d}.csv", ("\r\n".join(lines) + "\r\n").encode("latin-1"), sidecar)


def ecg_like(rng: np.random.Generator, index: int, started: datetime) -> DemoFile:
    """Physiological monitor: ISO timestamps, comma delimiter, two channels, ``#`` header lines."""
    fs = 250.0
    n = int(20 * fs)
    t = np.arange(n) / fs
    rate = rng.uniform(0.8, 1.2)
    beats = np.arange(0.4, t[-1], 1 / rate)
    lead = _gaussians(t, list(beats), [1.4] * len(beats), 0.012)
    lead += _gaussians(t, list(beats + 0.25), [0.3] * len(beats), 0.04)
    lead += 0.2 * np.sin(2 * np.pi * 0.15 * t) + rng.normal(0, 0.03, n)
    resp = 0.5 * np.sin(2 * np.pi * 0.25 * t) + rng.normal(0, 0.02, n)
    stamps = [started + timedelta(seconds=float(s)) for s in t]
    lines = [f"# device: ecg-01", f"# operator: {OPERATORS[(index + 1) % 4]}", "timestamp,lead_ii_mV,resp_V"]
    lines += [f"{s:%Y-%m-%dT%H:%M:%S.%f}Z,{a:.4f},{b:.4f}" for s, a, b in zip(stamps, lead, resp)]
    return DemoFile(f"ecg-01/session_{index:03d}.csv", ("\n".join(lines) + "\n").encode())


def photodetector(rng: np.random.Generator, index: int, started: datetime) -> DemoFile:
    """Photodetector trace: UTF-16 with BOM, tab-delimited, ``name (unit)`` headers, pulses."""
    t = np.round(np.arange(0, 30, 0.01), 2)
    y = _gaussians(t, [4.0, 11.5, 19.0, 26.5], [0.8, 0.3, 1.0, 0.5], 0.08) + rng.normal(0, 0.01, t.size) + 0.05
    lines = ["Time (s)\tIntensity (a.u.)"] + [f"{a:.2f}\t{b:.5f}" for a, b in zip(t, y)]
    sidecar = {"experiment_id": f"EXP-{200 + index // 4}", "operator": OPERATORS[(index + 2) % 4],
               "material": MATERIALS[(index + 1) % 4], "instrument": "photodet-03",
               "started_at": started.isoformat(), "params": {"integration_ms": 100 + 10 * (index % 5)}}
    return DemoFile(f"photodet-03/trace_{index:03d}.txt", ("\n".join(lines) + "\n").encode("utf-16"), sidecar)


def furnace_log(rng: np.random.Generator, index: int, started: datetime) -> DemoFile:
    """Furnace controller: UTF-8 with BOM, seconds, three channels, a plateau."""
    t = np.arange(0, 1800, 2.0)
    setpoint = np.clip(t / 600, 0, 1) * (600 + 50 * (index % 3))
    temp = setpoint + rng.normal(0, 1.2, t.size)
    power = np.clip(np.gradient(setpoint) * 40 + 20, 0, 100) + rng.normal(0, 0.5, t.size)
    lines = ["time_s,setpoint_C,temperature_C,power_pct"]
    lines += [f"{a:.1f},{b:.2f},{c:.2f},{d:.2f}" for a, b, c, d in zip(t, setpoint, temp, power)]
    sidecar = {"experiment_id": f"EXP-{300 + index // 2}", "operator": OPERATORS[index % 4],
               "material": MATERIALS[(index + 2) % 4], "instrument": "furnace-02",
               "started_at": started.isoformat(), "params": {"ramp_c_min": 60}}
    return DemoFile(f"furnace-02/log_{index:03d}.csv", ("\ufeff" + "\n".join(lines) + "\n").encode(), sidecar)


EU152_LINES_KEV = (121.78, 244.70, 344.28, 411.12, 443.96, 778.90, 867.38, 964.08, 1085.84, 1112.08, 1408.01)
EU152_YIELDS = (28.5, 7.6, 26.6, 2.2, 2.8, 12.9, 4.2, 14.5, 10.1, 13.7, 20.9)  # % per decay


def gamma_spectrum(rng: np.random.Generator, index: int, started: datetime) -> DemoFile:
    """Gamma spectrometer (ORTEC ``.Spe``, HPGe): an Eu-152 check source with K-40 background, Poisson counts,
    ``$MCA_CAL`` energy calibration and the detector's ``$SHAPE_CAL``, nothing below the discriminator."""
    channel = np.arange(4096, dtype=np.float64)
    gain = 0.4 + 0.0002 * (index % 3)  # keV per channel, a little drift from run to run
    energy = 0.2 + gain * channel
    live_s = 600 + 60 * (index % 4)
    expected = live_s * (0.4 * np.exp(-energy / 250.0) + 0.02)  # Compton continuum and room background
    fwhm = np.sqrt(0.8 + 0.0012 * energy)  # keV, an HPGe's resolution
    activity = float(rng.uniform(0.8, 1.2))  # the source's lines scale with it, the room's K-40 does not
    lines_kev = [(line, activity * share) for line, share in zip(EU152_LINES_KEV, EU152_YIELDS)] + [(1460.82, 3.0)]
    for line, rate in lines_kev:
        net = live_s * rate / (1.0 + line / 300.0)  # counts: rate x live time x a falling efficiency
        expected += net * gain / (fwhm * 1.0645) * np.exp(-4 * np.log(2) * ((energy - line) / fwhm) ** 2)
    expected[energy < 25.0] = 0.0
    counts = rng.poisson(expected)
    lines = ["$SPEC_ID:", f"Eu-152 check source {index:03d}", "$DATE_MEA:", f"{started:%m/%d/%Y %H:%M:%S}",
             "$MEAS_TIM:", f"{live_s} {live_s + 3}", "$DATA:", "0 4095", *(f"{c:8d}" for c in counts),
             "$ENER_FIT:", f"0.200000 {gain:.6f}", "$MCA_CAL:", "3", f"2.000000E-001 {gain:.6E} 0.000000E+000",
             "$SHAPE_CAL:", "3", f"{np.sqrt(0.8) / gain:.6E} 0.000000E+000 0.000000E+000"]
    sidecar = {"experiment_id": f"EXP-{400 + index // 5}", "operator": OPERATORS[(index + 3) % 4],
               "material": "Eu-152 check source", "instrument": "gamma-04", "started_at": started.isoformat(),
               "params": {"live_time_s": live_s}}
    return DemoFile(f"gamma-04/spectrum_{index:03d}.Spe", ("\r\n".join(lines) + "\r\n").encode(), sidecar)


GENERATORS: tuple[Callable[[np.random.Generator, int, datetime], DemoFile], ...] = (
    chromatogram, ecg_like, photodetector, furnace_log, gamma_spectrum,
)


def demo_files(count: int, *, seed: int = 7, now: datetime | None = None) -> list[DemoFile]:
    """``count`` demo files cycling through the dialects, deterministic for a seed."""
    rng = np.random.default_rng(seed)
    now = now or datetime.now(timezone.utc).replace(microsecond=0)
    return [
        GENERATORS[i % len(GENERATORS)](rng, i, now - timedelta(hours=6 * (count - i)))
        for i in range(count)
    ]


def write_demo(inbox: Path, count: int = 12, *, seed: int = 7) -> list[Path]:
    """Write demo files (sidecar first, data file atomically) into ``inbox``; return the data paths."""
    written = []
    for demo in demo_files(count, seed=seed):
        target = inbox / demo.relative_path
        if demo.sidecar is not None:
            write_atomic(target.with_name(target.name + ".meta.json"), json.dumps(demo.sidecar, indent=2).encode())
        write_atomic(target, demo.data)
        written.append(target)
    return written
