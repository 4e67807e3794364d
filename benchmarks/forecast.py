"""Energy forecasting: day-ahead accuracy on real buildings, and /predict latency under load.

    python benchmarks/forecast.py [--data-dir ../shared/data/energy] [--files N] [--clients 16]
                                  [--seconds 10] [--rounds 5] [--json PATH]

Accuracy: for every building file (``timestamp, load_kwh`` + weather), train on 2017–2018 with the
project's own training code (:func:`labflow.forecasting.model.train_forecast_model`, default
parameters) and backtest 2019 day by day: from each midnight, forecast the next 24 hours (rolling
origin) with the model's predict code, the weather after the origin filled as ``/predict`` fills it when
no future covariates are sent (the model's persistence rule per covariate). Beside it, the seasonal-naive forecast
(same hour one week earlier). A few origins are also forecast through the request path of ``/predict``
(:func:`labflow.forecasting.serving.predict` on 168 request points) to check it gives the same numbers.

Latency: the first building's model is registered and activated in a temporary lab, the real API
(``labflow api``, one uvicorn worker, ``LABFLOW_AUTH=on``) is started, and ``--clients`` concurrent
keep-alive clients (one process each) post ``/predict`` requests with a read key (168-point history,
24-step horizon); interleaved in rounds with the same load on a trivial JSON endpoint of the same server
(``/api/v1/_baseline``), on one that reads the same request bodies and drops them (what carrying the
body costs), on one that also reads them into arrays as ``/predict`` does (what the request's shape
costs, without the model), and on the baseline made to spend ``--cpu-us`` µs of CPU per request (what a
given cost per request does to p99 at this load). Beside each: the server's CPU time per request.

Keys: ``mae_ratio_vs_naive`` (ours / naive, mean over files), ``interval_coverage`` (mean over files),
``interval_nominal``, ``predict_p99_ms``, ``baseline_p99_ms`` (+ p50, requests/s, per-file figures).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime
from multiprocessing import get_context
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.api import ApiServer, summary  # noqa: E402
from benchmarks.common import print_table, shared_data_dir, write_json  # noqa: E402
from labflow.apikeys import KeyStore  # noqa: E402
from labflow.store.catalog import Catalog  # noqa: E402
from labflow.devserver import prepare_dagster_home  # noqa: E402
from labflow.forecasting.backtest import backtest  # noqa: E402
from labflow.forecasting.history import EnergyHistory, read_history_csv  # noqa: E402
from labflow.forecasting.model import ForecastModel, ForecastParams, train_forecast_model  # noqa: E402
from labflow.forecasting.registry import ModelRegistry  # noqa: E402
from labflow.forecasting.serving import ServedModel, predict  # noqa: E402
from labflow.forecasting.store import model_key, save_model  # noqa: E402
from labflow.settings import Settings  # noqa: E402
from labflow.store.outputs import open_output_store  # noqa: E402

TEST_YEAR = 2019
HISTORY_POINTS = 168
HORIZON = 24
BODIES = 64


def evaluate_file(path: Path, params: ForecastParams) -> tuple[dict, ForecastModel, EnergyHistory]:
    """Train on the years before 2019, backtest 2019 day by day; returns the figures, the model and the data."""
    history = read_history_csv(path.read_bytes(), source=path.name)
    first = history.frame["timestamp"].search_sorted(datetime(TEST_YEAR, 1, 1))
    started = time.perf_counter()
    model = train_forecast_model(history, params, until=first)
    trained_s = time.perf_counter() - started
    result = backtest(model, history, first_origin=first - 1, every=model.layout.steps_per_day, horizon=HORIZON)
    figures = {**result.metrics, "train_s": trained_s, "predict_path_max_diff": _check_predict_path(model, history,
                                                                                                   first)}
    return figures, model, history


def _check_predict_path(model: ForecastModel, history: EnergyHistory, first: int) -> float:
    """Largest difference between the batched backtest and /predict's request path, over a few origins."""
    served = ServedModel("check", 1, model)
    biggest = 0.0
    for origin in (first - 1, first + 24 * 100 - 1, first + 24 * 300 - 1):
        window = history.frame[origin + 1 - HISTORY_POINTS:origin + 1]
        forecast = predict(served, list(window.iter_rows(named=True)), HORIZON)
        batched, _, _ = model.predict_pairs(history.values, history.covariate_matrix(), history.frame["timestamp"][0],
                                            np.full(HORIZON, origin), np.arange(1, HORIZON + 1))
        biggest = max(biggest, float(np.max(np.abs(forecast.predicted - batched))))
    return biggest


def request_bodies(history: EnergyHistory) -> list[bytes]:
    """``BODIES`` different /predict requests: 168 readings of 2019 with the weather, horizon 24."""
    frame = history.frame.filter(history.frame["timestamp"].dt.year() == TEST_YEAR)
    starts = np.linspace(0, frame.height - HISTORY_POINTS - 1, BODIES).astype(int)
    bodies = []
    for start in starts:
        window = frame[int(start):int(start) + HISTORY_POINTS]
        points = [{**row, "timestamp": row["timestamp"].isoformat()} for row in window.iter_rows(named=True)]
        bodies.append(json.dumps({"historical_data": points, "forecast_horizon": HORIZON}).encode())
    return bodies


def _client(job: tuple[str, str, list[bytes] | None, dict[str, str], float, float]) -> list[float]:
    """One client process: warm up, then send requests from ``start_at`` for ``seconds``; times in ms."""
    url, path, bodies, headers, start_at, seconds = job
    times = []
    with httpx.Client(base_url=url, timeout=60, headers=headers) as client:
        for number in range(-1, 10**9):
            if number == 0:
                time.sleep(max(0.0, start_at - time.monotonic()))
            if number >= 0 and time.monotonic() >= start_at + seconds:
                return times
            began = time.perf_counter()
            if bodies is None:
                response = client.get(path)
            else:
                response = client.post(path, content=bodies[number % len(bodies)],
                                       headers={"content-type": "application/json"})
            if number >= 0:
                times.append((time.perf_counter() - began) * 1000 if response.status_code < 400 else float("inf"))
    return times


def wait_until_compiled(url: str, headers: dict[str, str], timeout_s: float = 120.0) -> None:
    """Wait until the API serves the model on compiled trees (it compiles them after loading)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        answer = httpx.get(f"{url}/api/v1/assets", headers=headers, timeout=10).json()
        serving = {a["asset_id"]: a["serving"] for a in answer}
        if serving.get("building") == "compiled":
            print("the API serves the model on compiled trees", flush=True)
            return
        time.sleep(0.5)
    print("WARNING: the model's trees were not compiled; measuring LightGBM's own predict", flush=True)


def measure_latency(model: ForecastModel, history: EnergyHistory, args: argparse.Namespace) -> dict[str, dict]:
    """p50/p99 of /predict and of the baseline endpoint, same server, same load, interleaved rounds."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env({"LABFLOW_HOME": str(Path(tmp) / "home")})
        prepare_dagster_home(settings)
        catalog = Catalog(settings.database_url)
        registry = ModelRegistry(catalog)
        key = model_key("building", "benchmark")
        save_model(open_output_store(settings), key, model)
        registry.register("building", run_id="benchmark", data_hash=history.data_hash, params={}, model_key=key)
        registry.activate("building", 1, by="benchmark")
        _, token = KeyStore(catalog).create("benchmark-device", "read")
        catalog.dispose()
        headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
        server = ApiServer(settings, {"LABFLOW_AUTH": "on"})
        try:
            bodies = request_bodies(history)
            check = httpx.post(f"{server.url}/api/v1/assets/building/predict", content=bodies[0], headers=headers,
                               timeout=60)
            check.raise_for_status()
            wait_until_compiled(server.url, headers)
            cases = {"baseline": ("/api/v1/_baseline", None), "body": ("/api/v1/_baseline/body", bodies),
                     "parse": ("/api/v1/_baseline/parse", bodies),
                     **{f"cpu{us}": (f"/api/v1/_baseline/cpu?us={us}", None) for us in args.cpu_us},
                     "predict": ("/api/v1/assets/building/predict", bodies)}
            times: dict[str, list[float]] = {name: [] for name in cases}
            spans, cpu = dict.fromkeys(cases, 0.0), dict.fromkeys(cases, 0.0)
            with get_context("fork").Pool(args.clients) as pool:
                for round_number in range(args.rounds):
                    for name, (path, payload) in cases.items():
                        start_at = time.monotonic() + 2.0
                        seconds = args.seconds / args.rounds
                        jobs = [(server.url, path, payload, headers, start_at, seconds)] * args.clients
                        cpu_before = server.cpu_seconds()
                        times[name] += [t for ts in pool.map(_client, jobs, chunksize=1) for t in ts]
                        cpu[name] += server.cpu_seconds() - cpu_before
                        spans[name] += time.monotonic() - start_at
                    print(f"latency round {round_number + 1}/{args.rounds} done", flush=True)
        finally:
            server.stop()
    return {name: {**summary(values, spans[name]), "server_cpu_us": round(cpu[name] / len(values) * 1e6)}
            for name, values in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=shared_data_dir() / "energy")
    parser.add_argument("--files", type=int, default=0, help="only the first N building files (0 = all)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per endpoint")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cpu-us", type=lambda text: [int(us) for us in text.split(",") if us], default=[150, 300],
                        help="also time the baseline made to spend these µs of CPU (comma-separated; '' = none)")
    parser.add_argument("--json")
    args = parser.parse_args()
    files = sorted(args.data_dir.glob("*.csv"))[:args.files or None]
    if not files:
        print(f"no CSV files in {args.data_dir}", file=sys.stderr)
        return 2
    params = ForecastParams()
    per_file, first_model = {}, None
    for number, path in enumerate(files, start=1):
        figures, model, history = evaluate_file(path, params)
        per_file[path.stem] = figures
        if first_model is None:
            first_model = (model, history)
        print(f"[{number}/{len(files)}] {path.name}: MAE/naive {figures['mae_ratio_vs_naive']:.3f}, coverage "
              f"{figures['interval_coverage']:.3f}, trained in {figures['train_s']:.1f} s", flush=True)
    latency = measure_latency(*first_model, args)  # type: ignore[misc]

    print(f"\nday-ahead backtest of {TEST_YEAR} (rolling origin every 24 h, horizon {HORIZON} h), trained on "
          f"{TEST_YEAR - 2}–{TEST_YEAR - 1}; {params.n_estimators} trees, interval {params.interval:.0%}")
    rows = [[name, f["mae"], f["naive_mae"], f["mae_ratio_vs_naive"], f["mape_pct"], f["naive_mape_pct"],
             f["interval_coverage"], f["train_s"], f"{f['predict_path_max_diff']:.1e}"] for name, f in per_file.items()]
    ratio = float(np.mean([f["mae_ratio_vs_naive"] for f in per_file.values()]))
    coverage = float(np.mean([f["interval_coverage"] for f in per_file.values()]))
    rows.append(["mean", "", "", ratio, float(np.mean([f["mape_pct"] for f in per_file.values()])),
                 float(np.mean([f["naive_mape_pct"] for f in per_file.values()])), coverage, "", ""])
    print_table(["building", "MAE", "naive MAE", "MAE / naive", "MAPE %", "naive MAPE %", "coverage", "train s",
                 "/predict path diff"], rows)
    baseline, served = latency["baseline"], latency["predict"]
    print(f"\n{args.clients} concurrent clients, {args.seconds:g} s per endpoint in {args.rounds} rounds "
          f"(168-point history, {HORIZON}-step horizon)")
    labels = {"baseline": 'baseline {"ok": true}', "body": "baseline, same body read and dropped",
              "parse": "baseline, same body read into arrays as /predict does",
              **{f"cpu{us}": f"baseline + {us} µs of CPU" for us in args.cpu_us},
              "predict": "POST /predict (with a key)"}
    print_table(["endpoint", "p50 ms", "p99 ms", "req/s", "errors", "server CPU µs / request", "p99 / baseline"],
                [[labels[name], f["p50_ms"], f["p99_ms"], f["rps"], f["errors"], f["server_cpu_us"],
                  "" if name == "baseline" else f"{f['p99_ms'] / baseline['p99_ms']:.2f}"]
                 for name, f in latency.items()])
    print(f"\ntargets: MAE / naive ≤ 0.75 (got {ratio:.3f}); coverage within 0.05 of {params.interval} (got "
          f"{coverage:.3f}); /predict p99 ≤ 1.5 × baseline and ≤ 100 ms (got {served['p99_ms']} vs "
          f"{baseline['p99_ms']} ms)")
    figures = {"mae_ratio_vs_naive": round(ratio, 4), "interval_coverage": round(coverage, 4),
               "interval_nominal": params.interval, "files": len(per_file),
               "predict_p99_ms": served["p99_ms"], "predict_p50_ms": served["p50_ms"], "predict_rps": served["rps"],
               "baseline_p99_ms": baseline["p99_ms"], "baseline_p50_ms": baseline["p50_ms"],
               "baseline_rps": baseline["rps"],
               **{f"{name}_p99_ms": f["p99_ms"] for name, f in latency.items() if name not in ("baseline", "predict")},
               **{f"{name}_server_cpu_us": f["server_cpu_us"] for name, f in latency.items()},
               **{f"{name}_{key}": round(f[key], 4) for name, f in per_file.items()
                  for key in ("mae_ratio_vs_naive", "interval_coverage", "mape_pct")}}
    write_json(args.json, figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
