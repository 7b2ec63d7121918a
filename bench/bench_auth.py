"""What authentication costs a prediction: with an API key and with a JWT, against none.

    .venv/bin/python bench/bench_auth.py [--duration S] [--rounds N]

Three service processes (bench_app.py, served like `sigmawatch serve`) on one
registry: `SIGMAWATCH_AUTH=none`, `api_key` and `jwt` (HS256). wrk POSTs the
same one-point body to each, sending the key or token as a client would;
runs are interleaved in alternating order and every figure is the median
over the rounds. Only one process is loaded at a time; the others idle.
The authenticated services also count each prediction against the rate
limits, in memory, as a deployment with authentication on does. The goal
(SEC-3): an authenticated single predict keeps >= 0.9x the unauthenticated
req/s.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import orjson

from bench_server import BenchServer
from loadgen import Budget, WrkResult, http_benchmark_main, require_wrk, run_wrk
from report import Row, median, ms, rate, ratio, table
from sigmawatch.access import NewApiKey, Role, generate_key, hash_key, key_hint
from workspace import Workspace, now_on_grid

NAME = "authenticated predict"
SERIES = "bench_auth"
CONNECTIONS = 32
NONE, KEY, TOKEN = "none", "api key", "jwt"
SECRET = "bench-secret-" + "s" * 32
ISSUER, AUDIENCE = "https://bench.local", "sigmawatch"
# Authenticated services count every prediction against the rate limits (SEC-2,
# in process memory), as a deployment does; the figures are set out of reach.
COUNTED = {
    "SIGMAWATCH_RATE_LIMITS": "on",
    "SIGMAWATCH_RATE_LIMIT_SERIES_PREDICTIONS": "1000000000 per minute",
    "SIGMAWATCH_RATE_LIMIT_CLIENT_PREDICTIONS": "1000000000 per minute",
}
AUTH_ENV = {
    NONE: {"SIGMAWATCH_AUTH": "none"},
    KEY: {"SIGMAWATCH_AUTH": "api_key", **COUNTED},
    TOKEN: {
        **COUNTED,
        "SIGMAWATCH_AUTH": "jwt",
        "SIGMAWATCH_JWT_SECRET": SECRET,
        "SIGMAWATCH_JWT_ISSUER": ISSUER,
        "SIGMAWATCH_JWT_AUDIENCE": AUDIENCE,
    },
}


def credentials(workspace: Workspace) -> dict[str, dict[str, str]]:
    key = generate_key()
    workspace.registry.create_api_key(
        NewApiKey("bench", Role.VIEWER, hash_key(key), key_hint(key), "bench")
    )
    claims = {
        "sub": "bench",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": datetime.now(UTC) + timedelta(hours=1),
        "roles": ["read"],
    }
    token = jwt.encode(claims, SECRET, "HS256")
    return {NONE: {}, KEY: {"X-API-Key": key}, TOKEN: {"Authorization": f"Bearer {token}"}}


def run(budget: Budget) -> list[Row]:
    require_wrk()
    with Workspace() as workspace:
        end = now_on_grid()
        workspace.train_demo(SERIES, end=end)
        headers = credentials(workspace)
        body = workspace.root / "point.json"
        body.write_bytes(orjson.dumps({"timestamp": end, "value": 51.5}))
        path = f"/v1/series/{SERIES}/predict"
        servers = {
            kind: BenchServer(workspace.server_env() | env, workspace.root / f"{kind}.log")
            for kind, env in AUTH_ENV.items()
        }
        results: dict[str, list[WrkResult]] = defaultdict(list)
        try:
            for server in servers.values():
                server.__enter__()
            for kind, server in servers.items():
                status, answer = server.request("POST", path, body.read_bytes(), headers[kind])
                if status != 200:
                    raise RuntimeError(f"{kind} answered {status}: {answer[:300]!r}")
                if kind != NONE and server.request("POST", path, body.read_bytes())[0] != 401:
                    raise RuntimeError(f"{kind} served a request without credentials")
            results = measure(servers, headers, path, body, budget)
        finally:
            for server in servers.values():
                server.stop()
    print(details(results))
    plain = median(r.rps for r in results[NONE])
    return [
        Row(
            NAME,
            f"single c={CONNECTIONS}, {kind} vs none req/s",
            rate(median(r.rps for r in results[kind])),
            rate(plain),
            ratio(median(r.rps for r in results[kind]), plain),
        )
        for kind in (KEY, TOKEN)
    ]


def measure(
    servers: dict[str, BenchServer],
    headers: dict[str, dict[str, str]],
    path: str,
    body: Path,
    budget: Budget,
) -> dict[str, list[WrkResult]]:
    results: dict[str, list[WrkResult]] = defaultdict(list)
    kinds = tuple(servers)
    for kind in kinds:  # warm code paths, the key cache and the model cache
        run_wrk(
            servers[kind].url + path,
            body,
            connections=4,
            duration_s=budget.warmup_s,
            **_wrk(headers[kind]),
        )
    for round_ in range(budget.rounds):
        for kind in kinds if round_ % 2 == 0 else kinds[::-1]:
            done = run_wrk(
                servers[kind].url + path,
                body,
                connections=CONNECTIONS,
                duration_s=budget.duration_s,
                **_wrk(headers[kind]),
            )
            if done.failed:
                raise RuntimeError(f"{kind} had failed requests: {done}")
            results[kind].append(done)
    return results


def _wrk(headers: dict[str, str]) -> dict[str, str]:
    """wrk takes the key, or a token as a bearer header."""
    if "X-API-Key" in headers:
        return {"api_key": headers["X-API-Key"]}
    if "Authorization" in headers:
        return {"authorization": headers["Authorization"]}
    return {}


def details(results: dict[str, list[WrkResult]]) -> str:
    rows = [
        (
            kind,
            rate(median(r.rps for r in runs)),
            *(ms(median(getattr(r, f"{p}_ms") for r in runs)) for p in ("p50", "p99")),
        )
        for kind, runs in results.items()
    ]
    return table(("auth", "req/s", "P50", "P99"), rows)


def main() -> int:
    return http_benchmark_main(__doc__.splitlines()[0], run)


if __name__ == "__main__":
    sys.exit(main())
