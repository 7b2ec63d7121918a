"""Single-point predict vs. do-nothing endpoints on the same server (PERF-2).

    .venv/bin/python bench/bench_predict.py [--duration S] [--rounds N]

One service process (bench_app.py, served like `sigmawatch serve`), one
trained demo series, and wrk POSTing the same one-point body to three
routes: predict, params (predict's parameters declared the FastAPI way, no
work) and empty. Runs are
interleaved in alternating order so drift on a noisy machine hits all three
alike; every figure is the median over the rounds.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import orjson

from bench_app import EMPTY_PATH, PARAMS_PATH
from bench_server import BenchServer
from loadgen import (
    Budget,
    WrkResult,
    http_benchmark_main,
    require_wrk,
    run_wrk,
)
from report import Row, delta_ms, median, ms, rate, ratio, table
from workspace import Workspace, now_on_grid

NAME = "single predict"
SERIES = "bench_single"
CONCURRENCY = (8, 32)
PERCENTILES = ("p50", "p95", "p99")
TARGETS_MS = (10.0, 30.0, 50.0)  # PERF-2, in the order of PERCENTILES

PREDICT, PARAMS, EMPTY = "predict", "params", "empty"
TARGETS = (PREDICT, PARAMS, EMPTY)
PATHS = {
    PREDICT: f"/v1/series/{SERIES}/predict",
    PARAMS: PARAMS_PATH.format(series_id=SERIES),
    EMPTY: EMPTY_PATH,
}

type Runs = list[WrkResult]
type Results = dict[tuple[str, int], Runs]


def check_answers(server: BenchServer, body: bytes) -> None:
    """Load only a setup that answers right: predict 200 without warnings, the others `{}`."""
    status, answer = server.request("POST", PATHS[PREDICT], body)
    document = orjson.loads(answer) if status == 200 else {}
    if "anomaly" not in document or document["warnings"]:
        raise RuntimeError(f"predict answered {status}: {answer[:300]!r}")
    for target in (PARAMS, EMPTY):
        status, answer = server.request("POST", PATHS[target], body)
        if (status, answer) != (200, b"{}"):
            raise RuntimeError(f"{target} answered {status}: {answer[:300]!r}")


def measure(server: BenchServer, body_file: Path, budget: Budget) -> Results:
    results: Results = defaultdict(list)
    for target in TARGETS:  # warm code paths and the model cache
        run_wrk(server.url + PATHS[target], body_file, connections=8, duration_s=budget.warmup_s)
    for connections in CONCURRENCY:
        for round_ in range(budget.rounds):
            for target in TARGETS if round_ % 2 == 0 else TARGETS[::-1]:
                url = server.url + PATHS[target]
                run = run_wrk(url, body_file, connections=connections, duration_s=budget.duration_s)
                if run.failed:
                    raise RuntimeError(f"{target} c={connections} had failed requests: {run}")
                results[target, connections].append(run)
    return results


def med(runs: Runs, field: str) -> float:
    return median(getattr(run, field) for run in runs)


def cost_us(runs: Runs) -> float:
    """Server time per request when saturated: the inverse of throughput."""
    return 1e6 / med(runs, "rps")


def details(results: Results) -> str:
    rows = [
        (
            f"{target} c={c}",
            rate(med(runs, "rps")),
            *(ms(med(runs, f"{p}_ms")) for p in ("p50", "p90", "p95", "p99")),
            ms(max(run.max_ms for run in runs)),
            str(sum(run.requests for run in runs)),
        )
        for c in CONCURRENCY
        for target in TARGETS
        if (runs := results[target, c])
    ]
    lines = [table(("route", "req/s", "P50", "P90", "P95", "P99", "max", "requests"), rows)]
    c = max(CONCURRENCY)
    empty, params, predict = (cost_us(results[t, c]) for t in (EMPTY, PARAMS, PREDICT))
    lines.append(
        f"per request at c={c} (1/throughput): empty {empty:.0f} µs; predict +{predict - empty:.0f}"
        f" µs; FastAPI-declared parameters alone (not used by predict) +{params - empty:.0f} µs"
    )
    return "\n".join(lines)


def throughput_row(results: Results, target: str, c: int) -> Row:
    mine, floor = med(results[target, c], "rps"), med(results[EMPTY, c], "rps")
    return Row(NAME, f"c={c} req/s, {target} vs empty", rate(mine), rate(floor), ratio(mine, floor))


def latency_row(results: Results, percentile: str, c: int) -> Row:
    field = f"{percentile}_ms"
    mine, floor = med(results[PREDICT, c], field), med(results[EMPTY, c], field)
    label = f"c={c} {percentile.upper()}, predict vs empty"
    return Row(NAME, label, ms(mine), ms(floor), delta_ms(mine, floor))


def target_row(results: Results, c: int) -> Row:
    measured = [med(results[PREDICT, c], f"{p}_ms") for p in PERCENTILES]
    met = all(m < t for m, t in zip(measured, TARGETS_MS, strict=True))
    return Row(
        NAME,
        f"c={c} predict P50/P95/P99 (PERF-2)",
        " / ".join(f"{m:.1f}" for m in measured) + " ms",
        "< " + " / ".join(f"{t:.0f}" for t in TARGETS_MS) + " ms",
        "met" if met else "NOT met",
    )


def rows_from(results: Results) -> list[Row]:
    rows: list[Row] = []
    for c in CONCURRENCY:
        rows.append(throughput_row(results, PREDICT, c))
        rows.extend(latency_row(results, p, c) for p in ("p50", "p99"))
    rows.append(throughput_row(results, PARAMS, max(CONCURRENCY)))
    rows.extend(target_row(results, c) for c in CONCURRENCY)
    return rows


def run(budget: Budget) -> list[Row]:
    require_wrk()
    with Workspace() as workspace:
        end = now_on_grid()
        workspace.train_demo(SERIES, end=end)
        body = orjson.dumps({"timestamp": end, "value": 51.5})
        body_file = workspace.root / "point.json"
        body_file.write_bytes(body)
        with BenchServer(workspace.server_env(), workspace.root / "server.log") as server:
            check_answers(server, body)
            results = measure(server, body_file, budget)
    print(details(results))
    return rows_from(results)


def main() -> int:
    return http_benchmark_main(__doc__.splitlines()[0], run)


if __name__ == "__main__":
    sys.exit(main())
