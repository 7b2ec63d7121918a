"""What a rollout costs a prediction: shadowed and canaried predict against plain, in one run.

    .venv/bin/python bench/bench_rollouts.py [--duration S] [--rounds N]

One service process (bench_app.py, served like `sigmawatch serve`) and three
demo series with two versions each: one with no rollout (plain), one in a
shadow rollout (stable answers, the candidate is scored beside it), one in
a 50% canary. The rollouts are held still (a ModelRollout's, which the
service never drives, with an unreachable sample minimum). wrk POSTs the
same one-point body and the same 1,000-point batch to each, interleaved in
alternating order; every figure is the median over the rounds. wrk's body
is fixed, so a canary's requests all go one way: its figure is the cost of
the routing decision, both versions being cached alike.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench_server import BenchServer
from loadgen import Budget, WrkResult, http_benchmark_main, require_wrk, run_wrk
from report import Row, median, ms, rate, ratio, table
from sigmawatch.registry.rollout_records import Driver, RolloutMember
from sigmawatch.rollouts import driver
from sigmawatch.rollouts.spec import parse_rollout_spec
from workspace import Workspace, now_on_grid

NAME = "rollout routing"
PLAIN, SHADOW, CANARY = "plain", "shadow", "canary"
SERIES = {PLAIN: "bench_plain", SHADOW: "bench_shadow", CANARY: "bench_canary"}
HELD = {"minSamples": 1_000_000_000, "maxDurationSeconds": 1e9}
SPECS: dict[str, dict[str, Any]] = {
    SHADOW: {"strategy": "shadow", "analysis": HELD},
    CANARY: {"strategy": "canary", "steps": [50, 100], "analysis": HELD},
}
CASES = (("single", 32), ("batch", 4))  # (body, wrk connections)
BATCH_POINTS = 1_000

type Results = dict[tuple[str, str], list[WrkResult]]


def prepare(workspace: Workspace, end: int) -> None:
    for kind, series in SERIES.items():
        workspace.train_demo(series, end=end)
        workspace.train_demo(series, end=end, seed=11, promote=False)
        if kind in SPECS:
            driver.start(
                workspace.registry,
                parse_rollout_spec(SPECS[kind]),
                [RolloutMember(series, 1, 2)],
                driver=Driver.OPERATOR,
                driver_ref=f"bench/{series}",
                now=datetime.now(UTC),
            )


def bodies(workspace: Workspace, end: int) -> dict[tuple[str, str], tuple[str, Path]]:
    """(case, kind) → (path, body file)."""
    files: dict[tuple[str, str], tuple[str, Path]] = {}
    for kind, series in SERIES.items():
        point = workspace.root / f"{kind}-point.json"
        point.write_bytes(orjson.dumps({"timestamp": end, "value": 51.5}))
        files["single", kind] = (f"/v1/series/{series}/predict", point)
        batch = workspace.root / f"{kind}-batch.json"
        timestamps = [end - 300 * i for i in range(BATCH_POINTS)][::-1]
        item = {"series_id": series, "timestamps": timestamps, "values": [51.5] * BATCH_POINTS}
        batch.write_bytes(orjson.dumps({"items": [item]}))
        files["batch", kind] = ("/v1/predict", batch)
    return files


def check(server: BenchServer, files: dict[tuple[str, str], tuple[str, Path]]) -> None:
    """Load only a setup that answers right: every body 200, the rollouts routing."""
    for (case, kind), (path, body) in files.items():
        status, answer = server.request("POST", path, body.read_bytes())
        if status != 200:
            raise RuntimeError(f"{case} {kind} answered {status}: {answer[:300]!r}")
    status, answer = server.request("GET", f"/v1/series/{SERIES[SHADOW]}/versions")
    if status != 200 or orjson.loads(answer)["rollout"] is None:
        raise RuntimeError(f"the shadow rollout does not route: {answer[:300]!r}")


def measure(
    server: BenchServer, files: dict[tuple[str, str], tuple[str, Path]], budget: Budget
) -> Results:
    results: Results = defaultdict(list)
    for path, body in files.values():  # warm code paths and the model cache
        run_wrk(server.url + path, body, connections=4, duration_s=budget.warmup_s)
    kinds = tuple(SERIES)
    for case, connections in CASES:
        for round_ in range(budget.rounds):
            for kind in kinds if round_ % 2 == 0 else kinds[::-1]:
                path, body = files[case, kind]
                run = run_wrk(
                    server.url + path, body, connections=connections, duration_s=budget.duration_s
                )
                if run.failed:
                    raise RuntimeError(f"{case} {kind} had failed requests: {run}")
                results[case, kind].append(run)
    return results


def points_per_request(case: str) -> int:
    return 1 if case == "single" else BATCH_POINTS


def rows_from(results: Results) -> list[Row]:
    rows = []
    for case, connections in CASES:
        plain = median(r.rps for r in results[case, PLAIN]) * points_per_request(case)
        for kind in (SHADOW, CANARY):
            mine = median(r.rps for r in results[case, kind]) * points_per_request(case)
            label = f"{case} c={connections}, {kind} vs plain predictions/s"
            rows.append(Row(NAME, label, rate(mine), rate(plain), ratio(mine, plain)))
    return rows


def details(results: Results) -> str:
    rows = [
        (
            f"{case} {kind}",
            rate(median(r.rps for r in runs)),
            *(ms(median(getattr(r, f"{p}_ms") for r in runs)) for p in ("p50", "p99")),
        )
        for (case, kind), runs in results.items()
    ]
    return table(("route", "req/s", "P50", "P99"), rows)


def run(budget: Budget) -> list[Row]:
    require_wrk()
    with Workspace() as workspace:
        end = now_on_grid()
        prepare(workspace, end)
        files = bodies(workspace, end)
        with BenchServer(workspace.server_env(), workspace.root / "server.log") as server:
            check(server, files)
            results = measure(server, files, budget)
    print(details(results))
    return rows_from(results)


def main() -> int:
    return http_benchmark_main(__doc__.splitlines()[0], run)


if __name__ == "__main__":
    sys.exit(main())
