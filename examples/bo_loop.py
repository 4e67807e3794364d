"""A small Bayesian-optimisation client of the labflow API (stdlib + httpx + numpy).

    .venv/bin/python examples/bo_loop.py --api http://127.0.0.1:8000 --campaign demo --simulate --iterations 3

Each round it reads the campaign's confirmed points (``GET /api/v1/datasets/confirmed``, polled with
``If-None-Match``), fits a Gaussian-process surrogate (RBF kernel; length scale and measurement noise
by marginal likelihood), posts a batch of recommendations with the predicted objective and its
uncertainty (the standard deviation of the predicted measurement, in the objective's units) and the phase
(``space_filling`` until a few points are confirmed, then ``model_driven`` by expected improvement),
registers the first recommended point as an experiment, and waits until a run of that experiment is
confirmed in the labelling app. ``--simulate`` uploads a synthetic HPLC chromatogram for the
experiment (its main peak grows with temperature, falls off away from a flow of 1 ml/min), so the
loop runs without an instrument; someone still has to confirm the run in the app.
Before anything is confirmed the surrogate is its prior, ``--prior-mean`` ± ``--prior-std`` (defaults:
the main-peak area of the simulated chromatograms, in s·mAU); give your objective's when it is another.
With auth on, pass ``--key`` (or set ``LABFLOW_API_KEY``) to a key with the ``write`` scope.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import dataclass

import httpx
import numpy as np

BOUNDS = {"column_temperature_c": (25.0, 60.0), "flow_ml_min": (0.5, 1.5)}
"""The parameter space: the demo HPLC campaign's two inputs."""
INITIAL_POINTS = 4
MODEL_VERSION = "gp-rbf-2"
PRIOR_MEAN, PRIOR_STD = 2000.0, 1000.0
"""What the objective is expected to be before any measurement (the simulated main-peak area, s·mAU)."""


@dataclass(frozen=True)
class Observation:
    """A confirmed experiment: its inputs (in :data:`BOUNDS` order) and objective."""

    inputs: np.ndarray
    objective: float


class GaussianProcess:
    """Exact GP regression with an RBF kernel on inputs scaled to [0, 1] and standardised outputs.

    Outputs are standardised by the data's mean and spread, or by the prior (``prior_mean``,
    ``prior_std``, in the objective's units) while fewer than two distinct values are known. The length
    scale and, unless ``noise`` is given, the measurement noise maximise the marginal likelihood.
    """

    LENGTH_SCALES = (0.1, 0.2, 0.35, 0.6, 1.0)
    NOISES = (1e-4, 1e-3, 1e-2, 0.05, 0.2)  # variance of a measurement, in standardised units

    def __init__(self, noise: float | None = None, *, prior_mean: float = PRIOR_MEAN, prior_std: float = PRIOR_STD):
        self.noise, self.prior_mean, self.prior_std = noise, prior_mean, prior_std

    def fit(self, x: np.ndarray, y: np.ndarray) -> "GaussianProcess":
        """Fit to ``x`` (n × d, scaled) and ``y`` (n, the objective's units)."""
        self.x = x
        spread = float(y.std()) if y.size >= 2 else 0.0
        self.y_mean, self.y_std = (float(y.mean()), spread) if spread > 0 else (self.prior_mean, self.prior_std)
        z = (y - self.y_mean) / self.y_std
        noises = self.NOISES if self.noise is None else (self.noise,)
        fits = [self._solve(z, length, noise) for length in self.LENGTH_SCALES for noise in noises]
        self.length, self.fitted_noise, self.chol, self.alpha = max(fits, key=lambda fit: fit[4])[:4]
        return self

    def _solve(self, z: np.ndarray, length: float,
               noise: float) -> tuple[float, float, np.ndarray, np.ndarray, float]:
        k = _rbf(self.x, self.x, length) + noise * np.eye(len(z))
        chol = np.linalg.cholesky(k)
        alpha = np.linalg.solve(chol.T, np.linalg.solve(chol, z))
        evidence = -0.5 * z @ alpha - np.log(np.diag(chol)).sum()
        return length, noise, chol, alpha, float(evidence)

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of a measurement at ``x`` (model and noise), in the objective's units."""
        k = _rbf(x, self.x, self.length)
        mean = k @ self.alpha
        v = np.linalg.solve(self.chol, k.T)
        var = np.clip(1.0 - (v**2).sum(axis=0), 1e-12, None) + self.fitted_noise
        return self.y_mean + self.y_std * mean, self.y_std * np.sqrt(var)


def _rbf(a: np.ndarray, b: np.ndarray, length: float) -> np.ndarray:
    distance = ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=-1)
    return np.exp(-0.5 * distance / length**2)


def scale(x: np.ndarray) -> np.ndarray:
    low, high = np.array([b[0] for b in BOUNDS.values()]), np.array([b[1] for b in BOUNDS.values()])
    return (x - low) / (high - low)


def unscale(u: np.ndarray) -> np.ndarray:
    low, high = np.array([b[0] for b in BOUNDS.values()]), np.array([b[1] for b in BOUNDS.values()])
    return low + u * (high - low)


def latin_hypercube(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points in [0, 1]^d, one in each of ``n`` strata per dimension."""
    d = len(BOUNDS)
    strata = np.stack([rng.permutation(n) for _ in range(d)], axis=1)
    return (strata + rng.uniform(size=(n, d))) / n


def expected_improvement(mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    """Expected improvement over ``best`` (maximisation)."""
    z = (mean - best) / std
    cdf = 0.5 * (1 + np.vectorize(math.erf)(z / math.sqrt(2)))
    pdf = np.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)
    return (mean - best) * cdf + std * pdf


def recommend(observations: list[Observation], count: int, rng: np.random.Generator, *,
              prior_mean: float = PRIOR_MEAN, prior_std: float = PRIOR_STD) -> list[dict]:
    """The next ``count`` points with the predicted objective ± its uncertainty and the phase that chose them."""
    if len(observations) < INITIAL_POINTS:
        chosen = latin_hypercube(count, rng)
        phase = "space_filling"
    else:
        chosen = _greedy_expected_improvement(observations, count, rng)
        phase = "model_driven"
    if observations:
        model = GaussianProcess(prior_mean=prior_mean, prior_std=prior_std).fit(
            scale(np.array([o.inputs for o in observations])), np.array([o.objective for o in observations]))
        mean, std = model.predict(chosen)
    else:  # nothing measured yet: the prior, in the objective's units
        mean, std = np.full(count, prior_mean), np.full(count, prior_std)
    return [{"parameters": {name: round(float(v), 4) for name, v in zip(BOUNDS, unscale(u))},
             "mean": float(m), "uncertainty": float(s), "phase": phase,
             "model_version": f"{MODEL_VERSION}+{len(observations)}obs"} for u, m, s in zip(chosen, mean, std)]


def _greedy_expected_improvement(observations: list[Observation], count: int,
                                 rng: np.random.Generator) -> np.ndarray:
    """A batch by expected improvement, each pick added as if measured at its predicted mean."""
    x = scale(np.array([o.inputs for o in observations]))
    y = np.array([o.objective for o in observations])
    candidates = rng.uniform(size=(2000, len(BOUNDS)))
    picks = []
    for _ in range(count):
        mean, std = GaussianProcess().fit(x, y).predict(candidates)
        best = int(np.argmax(expected_improvement(mean, std, y.max())))
        picks.append(candidates[best])
        x, y = np.vstack([x, candidates[best]]), np.append(y, mean[best])
        candidates = np.delete(candidates, best, axis=0)
    return np.array(picks)


def confirmed_points(client: httpx.Client, campaign: str, etag: str | None) -> tuple[list[dict] | None, str | None]:
    """The campaign's confirmed points, or ``None`` when unchanged since ``etag``."""
    response = client.get("/api/v1/datasets/confirmed", params={"campaign": campaign},
                          headers={"If-None-Match": etag} if etag else {})
    if response.status_code == 304:
        return None, etag
    response.raise_for_status()
    return response.json(), response.headers.get("etag")


def observations(points: list[dict]) -> list[Observation]:
    """Confirmed points that have every input of :data:`BOUNDS` and an objective."""
    return [Observation(np.array([float(p["inputs"][name]) for name in BOUNDS]), float(p["objective"]))
            for p in points if p["objective"] is not None and all(name in p["inputs"] for name in BOUNDS)]


def simulated_chromatogram(inputs: dict, rng: np.random.Generator) -> bytes:
    """An HPLC-like export whose main peak depends on the inputs (a hidden truth for the optimiser)."""
    temperature, flow = inputs["column_temperature_c"], inputs["flow_ml_min"]
    height = 40 + 2.0 * temperature - 60 * (flow - 1.0) ** 2 + rng.normal(0, 1.0)
    t = np.round(np.arange(0, 20, 0.02), 3)
    signal = height * np.exp(-0.5 * ((t - 3.1) / 0.12) ** 2) + height / 4 * np.exp(-0.5 * ((t - 7.4) / 0.12) ** 2)
    signal += rng.normal(0, 0.15, t.size)
    return ("Time (min),Absorbance (mAU)\n" + "".join(f"{a:.3f},{b:.4f}\n" for a, b in zip(t, signal))).encode()


def one_round(client: httpx.Client, args: argparse.Namespace, rng: np.random.Generator) -> str:
    """Recommend a batch, register its first point as an experiment (and upload a simulated run)."""
    campaign, simulate = args.campaign, args.simulate
    points, _ = confirmed_points(client, campaign, None)
    seen = observations(points or [])
    batch = recommend(seen, args.batch_size, rng, prior_mean=args.prior_mean, prior_std=args.prior_std)
    client.post("/api/v1/recommendations", json={"campaign": campaign, "points": batch}).raise_for_status()
    phase = batch[0]["phase"]
    print(f"{len(seen)} confirmed point(s) → posted {len(batch)} {phase} recommendation(s):")
    for point in batch:
        print(f"  {point['parameters']}  predicted {point['mean']:.3g} ± {point['uncertainty']:.2g}")
    inputs = batch[0]["parameters"]
    experiment = client.post("/api/v1/experiments", json={"campaign": campaign, "inputs": inputs})
    experiment.raise_for_status()
    experiment_id = experiment.json()["experiment_id"]
    print(f"registered experiment {experiment_id} with {inputs}")
    if simulate:
        sidecar = {"experiment_id": experiment_id, "params": {"campaign": campaign, **inputs}}
        upload = client.post("/api/v1/uploads", files={"file": (f"{experiment_id}.csv",
                                                                 simulated_chromatogram(inputs, rng))},
                             data={"instrument": "hplc-01", "metadata": json.dumps(sidecar)})
        upload.raise_for_status()
        print(f"uploaded a simulated measurement: run {upload.json()['run_key']}")
    else:
        print(f"measure it and drop the file with a sidecar {{\"experiment_id\": \"{experiment_id}\"}}")
    return experiment_id


def wait_for_confirmation(client: httpx.Client, campaign: str, experiment_id: str, timeout_s: float,
                          poll_s: float = 2.0) -> dict | None:
    """Poll (cheaply, with the ETag) until the experiment has a confirmed point; ``None`` on timeout."""
    print(f"waiting for a confirmed run of {experiment_id} (confirm it in the labelling app) …")
    etag, deadline = None, time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        points, etag = confirmed_points(client, campaign, etag)
        match = next((p for p in points or [] if p["experiment_id"] == experiment_id), None)
        if match is not None:
            print(f"confirmed: objective {match['objective']} from run(s) {', '.join(match['run_ids'])}")
            return match
        time.sleep(poll_s)
    return None


def parser() -> argparse.ArgumentParser:
    """The command line, every option with its default in ``--help``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--api", default="http://127.0.0.1:8000", help="base URL of the labflow API")
    parser.add_argument("--campaign", default="demo", help="campaign whose confirmed points are read and extended")
    parser.add_argument("--iterations", type=int, default=3, help="rounds of recommend → measure → confirm")
    parser.add_argument("--batch-size", type=int, default=3, help="points recommended per round")
    parser.add_argument("--simulate", action="store_true", help="upload a synthetic measurement for each experiment")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for each confirmation")
    parser.add_argument("--poll", type=float, default=2.0, help="seconds between dataset polls")
    parser.add_argument("--prior-mean", type=float, default=PRIOR_MEAN,
                        help="expected objective before any measurement, in its units")
    parser.add_argument("--prior-std", type=float, default=PRIOR_STD,
                        help="uncertainty of that expectation (standard deviation, the objective's units)")
    parser.add_argument("--key", default=argparse.SUPPRESS,
                        help="API key with the write scope (default: $LABFLOW_API_KEY, else none)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the space-filling design")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    rng = np.random.default_rng(args.seed)
    key = getattr(args, "key", None) or os.environ.get("LABFLOW_API_KEY")
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with httpx.Client(base_url=args.api, headers=headers, timeout=30) as client:
        for round_number in range(1, args.iterations + 1):
            print(f"\n— round {round_number} —")
            experiment_id = one_round(client, args, rng)
            if wait_for_confirmation(client, args.campaign, experiment_id, args.timeout, args.poll) is None:
                print(f"no confirmed run of {experiment_id} within {args.timeout:g} s; stopping", file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
