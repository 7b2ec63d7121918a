"""µs per request with no HTTP: the ASGI app called directly (issue 10, item 6).

    .venv/bin/python bench/bench_in_process.py [--rounds N] [--against CHECKOUT]

Over HTTP on this 2-core machine two runs of one server differ by 10-30%;
in process the spread is a few percent, small enough to see a change of a
few µs. Four requests, each the fastest of N rounds: the benchmark's
do-nothing route (the floor), a single-point predict, one series' 1,000
points and 1,000 series' one point each in columns (all answered by the
resident table). `--against` measures another
checkout of the project (e.g. a `git worktree` of an earlier commit) the
same way, in alternating subprocesses, and prints this tree's time over its.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("bench", "core", "inference", "operator")
CASES = ("floor", "single point", "1 series × 1,000 points", "1,000 series × 1 point, columns")
FLEET = 1_000


def measure(rounds: int) -> dict[str, float]:
    """The fastest round of each case, µs per request, for the code on sys.path."""
    import orjson

    from bench_app import create_bench_app
    from sigmawatch.demo import demo_series
    from tracing_in_process import _time
    from workspace import Workspace, now_on_grid

    with Workspace() as workspace:
        end = now_on_grid()
        workspace.train_demo("bench_in_process", end=end)
        fleet = [f"bench_in_process_{i:04d}" for i in range(FLEET)]
        for i, series_id in enumerate(fleet):
            workspace.train_demo(series_id, 10_000, end=end, seed=i)
        ts, vs = demo_series(1_000, seed=5, end=end - 300)
        columns = {
            "series_ids": fleet,
            "timestamps": [int(ts[-1])] * FLEET,
            "values": [10.0 + (i % 17) * 0.5 for i in range(FLEET)],
        }
        item = {"series_id": "bench_in_process", "timestamps": ts.tolist(), "values": vs.tolist()}
        os.environ.update(workspace.server_env())
        app = create_bench_app()
        app.state.services.start()
        requests = {
            CASES[0]: ("/bench/empty", b"{}", 3_000),
            CASES[1]: (
                "/v1/series/bench_in_process/predict",
                orjson.dumps({"timestamp": int(ts[-1]), "value": 10.0}),
                3_000,
            ),
            CASES[2]: ("/v1/predict", orjson.dumps({"items": [item]}), 1_000),
            CASES[3]: ("/v1/predict", orjson.dumps(columns), 300),
        }
        found: dict[str, list[float]] = {case: [] for case in CASES}
        try:
            for _ in range(rounds):
                for case, (path, body, n) in requests.items():
                    found[case].append(asyncio.run(_time(app, path, body, n)))
        finally:
            app.state.services.stop()
    return {case: min(times) for case, times in found.items()}


def in_subprocess(checkout: Path, rounds: int) -> dict[str, float]:
    paths = os.pathsep.join(str(checkout / part) for part in SOURCES)
    done = subprocess.run(
        [sys.executable, __file__, "--json", "--rounds", str(rounds)],
        env={**os.environ, "PYTHONPATH": paths},
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    found: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--against", type=Path, help="another checkout to compare with")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.json:
        # The checkout's own bench modules (PYTHONPATH) first; this file's beside them
        # only for what an older checkout lacks.
        beside = str(Path(__file__).resolve().parent)
        sys.path.remove(beside)
        sys.path.append(beside)
        print(json.dumps(measure(args.rounds)))
        return 0
    from report import ratio, table

    runs: dict[Path, list[dict[str, float]]] = {ROOT: []}
    if args.against:
        runs[args.against.resolve()] = []
    for _ in range(2):  # alternating, so both share the machine's slow minutes
        for checkout, found in runs.items():
            found.append(in_subprocess(checkout, args.rounds))
    best = {c: {case: min(r[case] for r in found) for case in CASES} for c, found in runs.items()}
    here = best[ROOT]
    rows = []
    for case in CASES:
        row = [case, f"{here[case]:.0f} µs"]
        if args.against:
            before = best[args.against.resolve()][case]
            row += [f"{before:.0f} µs", ratio(here[case], before)]
        rows.append(row)
    headers = ["request", "this tree"]
    if args.against:
        headers += ["--against", "time vs --against"]
    print(table(headers, rows))
    print(f"single point over the floor: {here[CASES[1]] - here[CASES[0]]:.0f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
