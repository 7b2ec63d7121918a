"""The tracing overhead in process, without HTTP or wrk (bench_tracing.py's second part).

Over HTTP on a shared 2-core machine two identical servers differ by a few
percent, as much as what is measured. Here the same predict goes straight
into the ASGI app, µs per request, alternating between an app built with
tracing off and one built with it on (one process: tracing's set-up is
global, but an app only gets the server span if built while it is on).
The resident table is off, so each predict takes the cache path and its
`model.score` span is checked too.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping, MutableMapping
from typing import Any

from fastapi import FastAPI
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from bench_app import create_bench_app
from sigmawatch import tracing

REQUESTS = 2_000  # per round and app
ROUNDS = 9


class _Discard(SpanExporter):
    def export(self, spans: Any) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _app(environ: Mapping[str, str]) -> FastAPI:
    os.environ.update(environ)
    app = create_bench_app()
    app.state.services.start()  # what the lifespan does, blocking here
    return app


async def _time(app: FastAPI, path: str, body: bytes, n: int) -> float:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    started = time.perf_counter()
    for _ in range(n):
        await app(dict(scope, state={}), receive, send)
    elapsed = time.perf_counter() - started
    if set(statuses) != {200}:
        raise RuntimeError(f"in-process predict answered {sorted(set(statuses))}")
    return elapsed / n * 1e6


def measure(environ: Mapping[str, str], path: str, body: bytes) -> dict[str, float]:
    """µs per predict, tracing off and on at 1% (spans discarded, not exported): the
    fastest round of each, the one other processes on the machine disturbed least."""
    environ = {**environ, "SIGMAWATCH_RESIDENT_MAX_BYTES": "0"}
    tracing.shutdown()
    off = _app(environ)
    sampler = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.01"}
    tracing.configure("bench-in-process", sampler, exporter=_Discard())
    on = _app(environ)
    apps = {"off": off, "1%": on}
    times: dict[str, list[float]] = {name: [] for name in apps}
    try:
        for app in apps.values():  # warm the cache and the code paths
            asyncio.run(_time(app, path, body, REQUESTS // 4))
        for round_ in range(ROUNDS):
            order = list(apps) if round_ % 2 == 0 else list(apps)[::-1]
            for name in order:
                times[name].append(asyncio.run(_time(apps[name], path, body, REQUESTS)))
    finally:
        for app in apps.values():
            app.state.services.stop()
        tracing.shutdown()
    return {name: min(found) for name, found in times.items()}
