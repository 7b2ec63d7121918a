"""wrk as the load generator: one POST body per run, results parsed from post.lua's line."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from report import Row, summary

LUA_SCRIPT = Path(__file__).resolve().parent / "post.lua"
# Far above what 2 cores can serve in a few seconds; post.lua stops a thread
# that reaches it, so a run is bounded by requests as well as by time.
MAX_REQUESTS = 500_000
WRK_MISSING = (
    "wrk is not installed: `apt-get install -y wrk` (Debian/Ubuntu) puts it on PATH; "
    "the HTTP benchmarks need it."
)


@dataclass(frozen=True)
class Budget:
    """How long each measurement runs: `rounds` wrk runs of `duration_s` per case."""

    duration_s: int = 3
    rounds: int = 3
    warmup_s: int = 1


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    seconds: float
    errors: int  # socket errors and timeouts
    non_2xx: int
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def failed(self) -> int:
        return self.errors + self.non_2xx


class WrkMissingError(RuntimeError):
    pass


def require_wrk() -> None:
    if shutil.which("wrk") is None:
        raise WrkMissingError(WRK_MISSING)


def run_wrk(
    url: str,
    body_file: Path,
    *,
    connections: int,
    duration_s: int,
    api_key: str | None = None,
    authorization: str | None = None,
) -> WrkResult:
    """One closed-loop wrk run: `connections` requests in flight for `duration_s` seconds.

    One wrk thread, so the generator takes one of the two cores and the
    single-worker server the other.
    """
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{duration_s}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(LUA_SCRIPT),
        url,
    ]
    env = {**os.environ, "BENCH_BODY": str(body_file), "BENCH_MAX_REQUESTS": str(MAX_REQUESTS)}
    if api_key is not None:
        env["BENCH_API_KEY"] = api_key
    if authorization is not None:
        env["BENCH_AUTHORIZATION"] = authorization
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=duration_s + 30, check=False
    )
    for line in done.stdout.splitlines():
        if line.startswith("BENCH "):
            raw = json.loads(line.removeprefix("BENCH "))
            break
    else:
        raise RuntimeError(f"wrk printed no summary (exit {done.returncode}): {done.stderr}")
    if raw["requests"] >= MAX_REQUESTS:
        raise RuntimeError(f"wrk hit the request cap ({MAX_REQUESTS}); throughput understated")
    return WrkResult(
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        errors=raw["errors"],
        non_2xx=raw["non_2xx"],
        **{f"{p}_ms": raw[f"{p}_us"] / 1000.0 for p in ("p50", "p90", "p95", "p99", "max")},
    )


def budget_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--duration", type=int, default=Budget.duration_s, help="seconds per run")
    parser.add_argument("--rounds", type=int, default=Budget.rounds, help="runs per case")


def budget_from(args: argparse.Namespace) -> Budget:
    if args.duration < 1 or args.rounds < 1:
        raise SystemExit("--duration and --rounds must be at least 1")
    return Budget(duration_s=args.duration, rounds=args.rounds)


def http_benchmark_main(description: str, run: Callable[[Budget], Sequence[Row]]) -> int:
    """Command-line entry of an HTTP benchmark: budget flags, run, summary table."""
    parser = argparse.ArgumentParser(description=description)
    budget_arguments(parser)
    try:
        rows = run(budget_from(parser.parse_args()))
    except WrkMissingError as exc:
        print(exc, file=sys.stderr)
        return 2
    print()
    print(summary(rows))
    return 0
