"""The fleet's shape — many series, one point each — against one series' batch (issue 10).

    .venv/bin/python bench/bench_fleet.py [--duration S] [--rounds N]

1,000 series are trained; wrk POSTs fixed bodies to `POST /v1/predict` of
two service processes (bench_app.py) on the same registry: one as shipped
(the resident table on), one with `SIGMAWATCH_RESIDENT_MAX_BYTES=0` (every
item through the model cache, all of them cached: the path before the
table). The baseline of every row is the same service scoring one series'
1,000 points in one item, the shape numpy handles best. Goals: 1,000 series
× 1 point at ≥ 1M predictions/s and within 3× of that baseline; 90 series ×
1 point (one sensor: 3 channels × 30 models) at ≥ 5k requests/s. A second
set of 1,000 series is in a shadow rollout (held still) of a second version
each: stable answers from the table, the cached candidates are scored beside
it. Cases are interleaved round by round; each figure is a median.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from bench_server import BenchServer
from loadgen import Budget, WrkResult, http_benchmark_main, require_wrk, run_wrk
from report import Row, median, ms, rate, ratio, table
from sigmawatch.demo import STEP_S, demo_series
from sigmawatch.registry.rollout_records import Driver, RolloutMember
from sigmawatch.rollouts import driver
from sigmawatch.rollouts.spec import parse_rollout_spec
from workspace import Workspace, now_on_grid

NAME = "fleet shape"
PATH = "/v1/predict"
CONNECTIONS = 4
FLEET = 1_000
SENSOR = 90  # 3 channels × 30 models


@dataclass(frozen=True, slots=True)
class Case:
    label: str
    points: int  # predictions a request asks for
    body: str  # "single", "items" or "columns"
    series: int
    table_on: bool = True
    shadowed: bool = False  # the series of a shadow rollout (a second version each)


SINGLE = Case("1 series × 1,000 points (baseline)", 1_000, "single", 1)
CASES = (
    SINGLE,
    Case("1,000 series × 1 point, items", FLEET, "items", FLEET),
    Case("1,000 series × 1 point, columns", FLEET, "columns", FLEET),
    Case("90 series × 1 point, columns (one sensor)", SENSOR, "columns", SENSOR),
    Case("90 series × 1 point, items (one sensor)", SENSOR, "items", SENSOR),
    Case("1,000 series × 1 point, items, table off", FLEET, "items", FLEET, table_on=False),
    Case(
        "1,000 series × 1 point, columns, in a shadow rollout",
        FLEET,
        "columns",
        FLEET,
        shadowed=True,
    ),
)
# A shadow rollout held still: the service never drives a ModelRollout's.
HELD = {"strategy": "shadow", "analysis": {"minSamples": 1_000_000_000, "maxDurationSeconds": 1e9}}


def series_id(i: int, shadowed: bool = False) -> str:
    return f"bench_{'shadow' if shadowed else 'fleet'}_{i:04d}"


def make_body(case: Case, end: int) -> bytes:
    """Points inside the trained range, so no answer carries a warning."""
    if case.body == "single":
        timestamps, values = demo_series(case.points, seed=3, end=end)
        items = [{"series_id": series_id(0), "timestamps": timestamps, "values": values}]
        return orjson.dumps({"items": items}, option=orjson.OPT_SERIALIZE_NUMPY)
    ids = [series_id(i, case.shadowed) for i in range(case.series)]
    points = [10.0 + (i % 17) * 0.5 for i in range(case.series)]
    at = end - STEP_S
    if case.body == "columns":
        return orjson.dumps({"series_ids": ids, "timestamps": [at] * len(ids), "values": points})
    items = [
        {"series_id": s, "timestamps": [at], "values": [v]}
        for s, v in zip(ids, points, strict=True)
    ]
    return orjson.dumps({"items": items})


def check_answer(server: BenchServer, case: Case, body: bytes) -> None:
    status, raw = server.request("POST", PATH, body)
    answer = orjson.loads(raw) if status == 200 else {}
    if case.body == "columns":
        clean = not answer.get("errors") and not answer.get("warnings")
        scored = len(answer.get("scores", ())) if clean else 0
    else:
        results = answer.get("results", [])
        clean = all("error" not in r and not r["warnings"] for r in results)
        scored = sum(len(r.get("scores", ())) for r in results) if clean else 0
    if scored != case.points:
        raise RuntimeError(f"{case.label}: answered {status}: {raw[:300]!r}")


def measure(
    servers: dict[bool, BenchServer], files: dict[Case, Path], budget: Budget
) -> dict[Case, list[WrkResult]]:
    results: dict[Case, list[WrkResult]] = defaultdict(list)
    for case in CASES:
        url = servers[case.table_on].url + PATH
        run_wrk(url, files[case], connections=CONNECTIONS, duration_s=budget.warmup_s)
    for round_ in range(budget.rounds):
        for case in CASES if round_ % 2 == 0 else CASES[::-1]:
            url = servers[case.table_on].url + PATH
            run = run_wrk(url, files[case], connections=CONNECTIONS, duration_s=budget.duration_s)
            if run.failed:
                raise RuntimeError(f"{case.label} had failed requests: {run}")
            results[case].append(run)
    return results


def run(budget: Budget) -> list[Row]:
    require_wrk()
    with Workspace() as workspace:
        end = now_on_grid()
        for i in range(FLEET):
            workspace.train_demo(series_id(i), 10_000, end=end, seed=i)
            workspace.train_demo(series_id(i, True), 10_000, end=end, seed=i)
            workspace.train_demo(series_id(i, True), 10_000, end=end, seed=FLEET + i, promote=False)
        driver.start(
            workspace.registry,
            parse_rollout_spec(HELD),
            [RolloutMember(series_id(i, True), 1, 2) for i in range(FLEET)],
            driver=Driver.OPERATOR,
            driver_ref="bench/fleet-shadow",
            now=datetime.now(UTC),
        )
        files = {case: workspace.root / f"fleet-{i}.json" for i, case in enumerate(CASES)}
        for case, path in files.items():
            path.write_bytes(make_body(case, end))
        env = workspace.server_env()
        off = {**env, "SIGMAWATCH_RESIDENT_MAX_BYTES": "0", "SIGMAWATCH_WARMUP_TOP_N": "2000"}
        with (
            BenchServer(env, workspace.root / "server-on.log") as on,
            BenchServer(off, workspace.root / "server-off.log") as table_off,
        ):
            servers = {True: on, False: table_off}
            for case, path in files.items():  # the first shadow request loads the candidates
                check_answer(servers[case.table_on], case, path.read_bytes())
                check_answer(servers[case.table_on], case, path.read_bytes())
            results = measure(servers, files, budget)
    rps = {case: median(r.rps for r in results[case]) for case in CASES}
    served = {case: rps[case] * case.points for case in CASES}
    print(f"c={CONNECTIONS}, medians of {budget.rounds} runs of {budget.duration_s} s")
    print(
        table(
            ("case", "req/s", "predictions/s", "vs baseline", "P50", "P99"),
            [
                (
                    case.label,
                    rate(rps[case]),
                    rate(served[case], " pred/s"),
                    ratio(served[case], served[SINGLE]),
                    ms(median(r.p50_ms for r in results[case])),
                    ms(median(r.p99_ms for r in results[case])),
                )
                for case in CASES
            ],
        )
    )
    return [
        Row(
            NAME,
            f"{case.label} vs 1 series × 1,000 points",
            rate(served[case], " pred/s"),
            rate(served[SINGLE], " pred/s"),
            f"{ratio(served[case], served[SINGLE])} ({rate(rps[case])} req/s)",
        )
        for case in CASES
        if case is not SINGLE
    ]


def main() -> int:
    return http_benchmark_main(__doc__.splitlines()[0], run)


if __name__ == "__main__":
    sys.exit(main())
