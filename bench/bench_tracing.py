"""What tracing costs a single-point predict (OBS-5): off, at a 1% sampler, at 100%.

    .venv/bin/python bench/bench_tracing.py [--duration S] [--rounds N]

Four service processes (bench_app.py, served like `sigmawatch serve`) on one
registry: two with `OTEL_TRACES_EXPORTER=none` (the second one shows how far
two identical servers differ on this machine: the noise floor), and two with
`otlp`, `parentbased_traceidratio` at 0.01 and `always_on`. The traced ones
export to a small OTLP/HTTP sink in this process, which decodes every batch,
counts its spans and answers 200, so their exporters do the real work
(protobuf encoding, an HTTP POST per batch). wrk POSTs the same one-point
body to each; runs are interleaved in alternating order and every figure is
the median over the rounds. Only one process is loaded at a time, and the
next run starts once every server is idle (`bench_server.settle`: the 100%
one goes on exporting its queue after its run). Beside req/s, each run's
server CPU per request (its after-run export included), which the scheduling
of wrk and the servers on 2 cores disturbs less. The goal: >= 0.95x the
untraced req/s at 1%. Then the same predict in process, without HTTP
(tracing_in_process.py).
"""

from __future__ import annotations

import sys
import threading
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NamedTuple

import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

import tracing_in_process
from bench_server import BenchServer, settle
from loadgen import Budget, WrkResult, http_benchmark_main, require_wrk, run_wrk
from report import Row, median, ms, rate, ratio, table
from workspace import Workspace, now_on_grid

NAME = "tracing overhead"
SERIES = "bench_tracing"
CONNECTIONS = 32
OFF, CONTROL, ONE_PERCENT, ALL = "off", "off again", "1%", "100%"
SAMPLERS = {
    OFF: {"OTEL_TRACES_EXPORTER": "none"},
    CONTROL: {"OTEL_TRACES_EXPORTER": "none"},  # a second untraced server: the noise floor
    ONE_PERCENT: {
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.01",
    },
    ALL: {"OTEL_TRACES_SAMPLER": "always_on"},
}


class Sink:
    """An OTLP/HTTP receiver that keeps only counts: spans per service, 200 to each POST."""

    def __init__(self) -> None:
        self.spans: Counter[str] = Counter()
        self.bytes = 0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                sink.bytes += len(body)
                for resource in ExportTraceServiceRequest.FromString(body).resource_spans:
                    names = [a.value.string_value for a in resource.resource.attributes]
                    keys = [a.key for a in resource.resource.attributes]
                    service = names[keys.index("service.name")]
                    sink.spans[service] += sum(len(s.spans) for s in resource.scope_spans)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Sink:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def environment(kind: str, sink: Sink) -> dict[str, str]:
    if kind in (OFF, CONTROL):
        return SAMPLERS[kind]
    return {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": sink.url,
        "OTEL_SERVICE_NAME": f"bench-{kind}",
        **SAMPLERS[kind],
    }


class Run(NamedTuple):
    wrk: WrkResult
    cpu_us: float  # the server's CPU per request answered, its after-run export included


def measure(
    servers: dict[str, BenchServer], path: str, body: Path, budget: Budget
) -> tuple[dict[str, list[Run]], Counter[str]]:
    """The measured runs by kind, and every request each server answered (warm-up too)."""
    results: dict[str, list[Run]] = defaultdict(list)
    answered: Counter[str] = Counter(dict.fromkeys(servers, 1))  # the check
    kinds = tuple(servers)
    for kind in kinds:  # warm code paths and the model cache
        url = servers[kind].url + path
        answered[kind] += run_wrk(url, body, connections=4, duration_s=budget.warmup_s).requests
    settle(servers.values())
    for round_ in range(budget.rounds):
        for kind in kinds if round_ % 2 == 0 else kinds[::-1]:
            url, server = servers[kind].url + path, servers[kind]
            cpu_s = server.cpu_s()
            done = run_wrk(url, body, connections=CONNECTIONS, duration_s=budget.duration_s)
            settle(servers.values())  # a traced server exports what it queued; then the next
            if done.failed:
                raise RuntimeError(f"{kind} had failed requests: {done}")
            results[kind].append(Run(done, (server.cpu_s() - cpu_s) / done.requests * 1e6))
            answered[kind] += done.requests
    return results, answered


def run(budget: Budget) -> list[Row]:
    require_wrk()
    with Workspace() as workspace, Sink() as sink:
        end = now_on_grid()
        workspace.train_demo(SERIES, end=end)
        body = workspace.root / "point.json"
        body.write_bytes(orjson.dumps({"timestamp": end, "value": 51.5}))
        path = f"/v1/series/{SERIES}/predict"
        servers = {
            kind: BenchServer(
                workspace.server_env() | environment(kind, sink), workspace.root / f"{kind}.log"
            )
            for kind in SAMPLERS
        }
        try:
            for server in servers.values():
                server.__enter__()
            for kind, server in servers.items():
                status, answer = server.request("POST", path, body.read_bytes())
                if status != 200:
                    raise RuntimeError(f"{kind} answered {status}: {answer[:300]!r}")
            results, answered = measure(servers, path, body, budget)
        finally:
            for server in servers.values():
                server.stop()  # SIGTERM: each flushes its last spans to the sink
        spans = dict(sink.spans)
        print(f"the sink received {sum(spans.values())} spans, {sink.bytes / 1e6:.1f} MB")
        in_process = tracing_in_process.measure(workspace.server_env(), path, body.read_bytes())
    print(
        details(
            results, {kind: spans.get(f"bench-{kind}", 0) / answered[kind] for kind in SAMPLERS}
        )
    )
    plain = median(r.wrk.rps for r in results[OFF])
    plain_cpu = median(r.cpu_us for r in results[OFF])
    off_us, on_us = in_process["off"], in_process["1%"]
    print(f"in process, per predict on the cache path: off {off_us:.1f} µs, 1% {on_us:.1f} µs")
    return [
        Row(
            NAME,
            "in process, µs per predict, sampled 1% vs off",
            f"{on_us:.1f} µs",
            f"{off_us:.1f} µs",
            ratio(off_us, on_us),  # as a throughput ratio, like the rows below
        ),
        *(
            Row(
                NAME,
                f"single c={CONNECTIONS}, {_case(kind)} vs off req/s",
                rate(median(r.wrk.rps for r in results[kind])),
                rate(plain),
                ratio(median(r.wrk.rps for r in results[kind]), plain),
            )
            for kind in (CONTROL, ONE_PERCENT, ALL)
        ),
        *(
            Row(
                NAME,
                f"server CPU per request, {_case(kind)} vs off",
                f"{median(r.cpu_us for r in results[kind]):.0f} µs",
                f"{plain_cpu:.0f} µs",
                ratio(plain_cpu, median(r.cpu_us for r in results[kind])),  # as throughput
            )
            for kind in (CONTROL, ONE_PERCENT, ALL)
        ),
    ]


def _case(kind: str) -> str:
    return "untraced again" if kind == CONTROL else f"sampled {kind}"


def details(results: dict[str, list[Run]], spans: dict[str, float]) -> str:
    """Spans received per request answered: the resident table answers this series
    (no model.score), so 1 when every request is sampled; fewer means the
    exporter's full queue dropped some."""
    rows = [
        (
            kind,
            rate(median(r.wrk.rps for r in runs)),
            *(ms(median(getattr(r.wrk, f"{p}_ms") for r in runs)) for p in ("p50", "p99")),
            f"{median(r.cpu_us for r in runs):.0f} µs",
            f"{spans[kind]:.3f}",
        )
        for kind, runs in results.items()
    ]
    return table(("tracing", "req/s", "P50", "P99", "CPU/request", "spans/request"), rows)


def main() -> int:
    return http_benchmark_main(__doc__.splitlines()[0], run)


if __name__ == "__main__":
    sys.exit(main())
