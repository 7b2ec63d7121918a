"""Batch predict throughput vs. only parsing the same body, in predictions/s.

    .venv/bin/python bench/bench_batch.py [--duration S] [--rounds N]

wrk POSTs one fixed body to `POST /v1/predict` of a service process
(bench_app.py); the baseline is this process turning the same bytes into
numpy arrays (orjson.loads + np.asarray per item), which any server must do
at the least. Served/parse-only says what share of raw parsing speed the
whole service keeps; cases are interleaved and each figure is a median.
"""

from __future__ import annotations

import sys
import timeit
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

from bench_server import BenchServer
from loadgen import (
    Budget,
    WrkResult,
    http_benchmark_main,
    require_wrk,
    run_wrk,
)
from report import Row, median, ms, rate, ratio, table
from sigmawatch.demo import demo_series
from workspace import Workspace, now_on_grid

NAME = "batch predict"
PATH = "/v1/predict"
CONNECTIONS = 4  # enough to keep one worker busy while wrk waits on answers


@dataclass(frozen=True, slots=True)
class Case:
    points: int
    series: int

    @property
    def label(self) -> str:
        return f"{self.points:,} pts × {self.series} series"

    @property
    def series_ids(self) -> list[str]:
        return [f"bench_batch_{i}" for i in range(self.series)]


CASES = (Case(1_000, 1), Case(10_000, 1), Case(10_000, 10))


def make_body(case: Case, end: int) -> bytes:
    """Points inside the trained range, so no item carries warnings."""
    per_series = case.points // case.series
    items = []
    for seed, series_id in enumerate(case.series_ids, start=100):
        timestamps, values = demo_series(per_series, seed=seed, end=end)
        items.append({"series_id": series_id, "timestamps": timestamps, "values": values})
    return orjson.dumps({"items": items}, option=orjson.OPT_SERIALIZE_NUMPY)


def parse_only(body: bytes) -> None:
    for item in orjson.loads(body)["items"]:
        np.asarray(item["timestamps"], dtype=np.int64)
        np.asarray(item["values"], dtype=np.float64)


def parse_seconds(body: bytes) -> float:
    """Median seconds per parse; autorange makes each of 5 repeats last ≥ 0.2 s."""
    timer = timeit.Timer(lambda: parse_only(body))
    number, _ = timer.autorange()
    return median(t / number for t in timer.repeat(repeat=5, number=number))


def check_answer(server: BenchServer, case: Case, body: bytes) -> None:
    status, answer = server.request("POST", PATH, body)
    results = orjson.loads(answer)["results"] if status == 200 else []
    scored = sum(len(r.get("scores", ())) for r in results)
    clean = all("error" not in r and not r["warnings"] for r in results)
    if len(results) != case.series or not clean or scored != case.points:
        raise RuntimeError(f"{case.label}: answered {status}: {answer[:300]!r}")


def measure(
    server: BenchServer, files: dict[Case, Path], budget: Budget
) -> dict[Case, list[WrkResult]]:
    results: dict[Case, list[WrkResult]] = defaultdict(list)
    url = server.url + PATH
    for case in CASES:
        run_wrk(url, files[case], connections=CONNECTIONS, duration_s=budget.warmup_s)
    for round_ in range(budget.rounds):
        for case in CASES if round_ % 2 == 0 else CASES[::-1]:
            run = run_wrk(url, files[case], connections=CONNECTIONS, duration_s=budget.duration_s)
            if run.failed:
                raise RuntimeError(f"{case.label} had failed requests: {run}")
            results[case].append(run)
    return results


@dataclass(frozen=True, slots=True)
class Outcome:
    case: Case
    body_bytes: int
    runs: list[WrkResult]
    parse_rate: float  # predictions/s of parse_only

    @property
    def served_rate(self) -> float:
        return median(r.rps for r in self.runs) * self.case.points


def details(outcomes: list[Outcome], budget: Budget) -> str:
    lines = [
        (
            o.case.label,
            f"{o.body_bytes / 1024:.0f} KiB",
            rate(median(r.rps for r in o.runs)),
            rate(o.served_rate, " pred/s"),
            rate(o.parse_rate, " pred/s"),
            ms(median(r.p50_ms for r in o.runs)),
            ms(median(r.p99_ms for r in o.runs)),
        )
        for o in outcomes
    ]
    headers = ("case", "body", "req/s", "served", "parse-only", "P50", "P99")
    title = f"c={CONNECTIONS}, medians of {budget.rounds} runs of {budget.duration_s} s"
    return title + "\n" + table(headers, lines)


def rows_from(outcomes: list[Outcome]) -> list[Row]:
    return [
        Row(
            NAME,
            f"{o.case.label}, served vs parse-only",
            rate(o.served_rate, " pred/s"),
            rate(o.parse_rate, " pred/s"),
            ratio(o.served_rate, o.parse_rate),
        )
        for o in outcomes
    ]


def run(budget: Budget) -> list[Row]:
    require_wrk()
    with Workspace() as workspace:
        end = now_on_grid()
        for series_id in CASES[-1].series_ids:
            workspace.train_demo(series_id, end=end)
        bodies = {case: make_body(case, end) for case in CASES}
        files = {case: workspace.root / f"batch-{i}.json" for i, case in enumerate(CASES)}
        for case, path in files.items():
            path.write_bytes(bodies[case])
        # Timed before the server starts, so nothing else competes for the cores.
        parse_rate = {case: case.points / parse_seconds(bodies[case]) for case in CASES}
        with BenchServer(workspace.server_env(), workspace.root / "server.log") as server:
            for case in CASES:
                check_answer(server, case, bodies[case])
            results = measure(server, files, budget)
    outcomes = [Outcome(c, len(bodies[c]), results[c], parse_rate[c]) for c in CASES]
    print(details(outcomes, budget))
    return rows_from(outcomes)


def main() -> int:
    return http_benchmark_main(__doc__.splitlines()[0], run)


if __name__ == "__main__":
    sys.exit(main())
