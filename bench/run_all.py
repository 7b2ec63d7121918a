"""Run every benchmark and print one summary table (`make bench`).

    .venv/bin/python bench/run_all.py [--duration S] [--rounds N]

Each benchmark starts and stops its own embedded PostgreSQL and service
process. One that fails or cannot run (no wrk) is reported and the others
still run; the exit status is 1 if any did not complete.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime

import bench_affinity
import bench_auth
import bench_batch
import bench_catalogue
import bench_fleet
import bench_fleet_train
import bench_ml_health
import bench_predict
import bench_resident
import bench_restore
import bench_rollouts
import bench_tracing
import bench_train
from loadgen import Budget, WrkMissingError, budget_arguments, budget_from
from report import Row, summary


def benchmarks(budget: Budget) -> list[tuple[str, Callable[[], list[Row]]]]:
    return [
        (bench_predict.NAME, lambda: bench_predict.run(budget)),
        (bench_batch.NAME, lambda: bench_batch.run(budget)),
        (bench_rollouts.NAME, lambda: bench_rollouts.run(budget)),
        (bench_auth.NAME, lambda: bench_auth.run(budget)),
        (bench_tracing.NAME, lambda: bench_tracing.run(budget)),
        (bench_train.NAME, bench_train.run),
        (bench_catalogue.NAME, lambda: bench_catalogue.run(repeats=10 * budget.rounds)),
        (bench_fleet.NAME, lambda: bench_fleet.run(budget)),
        (bench_resident.NAME, lambda: bench_resident.run(repeats=budget.rounds)),
        (bench_fleet_train.NAME, bench_fleet_train.run),
        (bench_affinity.NAME, bench_affinity.run),
        (bench_restore.NAME, bench_restore.run),
        # 10,000 series × 24 h, not the script's 100,000: the run stays in minutes.
        (bench_ml_health.NAME, lambda: bench_ml_health.run(repeats=budget.rounds)),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    budget_arguments(parser)
    budget = budget_from(parser.parse_args())
    started = time.monotonic()
    print(
        f"Sigmawatch benchmarks, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC,"
        f" Python {platform.python_version()}, {platform.machine()},"
        f" {len(os.sched_getaffinity(0))} cores;"
        f" wrk runs of {budget.duration_s} s × {budget.rounds} rounds"
    )
    rows: list[Row] = []
    incomplete: list[str] = []
    for name, run in benchmarks(budget):
        print(f"\n== {name} ==", flush=True)
        try:
            rows.extend(run())
        except WrkMissingError as exc:
            print(f"skipped: {exc}")
            incomplete.append(f"{name} (skipped: no wrk)")
        except Exception:
            traceback.print_exc()
            incomplete.append(f"{name} (failed)")
    print("\n== summary ==")
    print(summary(rows))
    print(f"\nwall time {time.monotonic() - started:.0f} s")
    if incomplete:
        print("did not complete: " + ", ".join(incomplete))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
