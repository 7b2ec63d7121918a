"""Jaeger (v2, in-memory), the OTLP receiver the tracing tier reads its spans back from.

Built from the Go module proxy (tools/testbin/build.sh, set `traces`). Every
port is a free loopback one, written into its configuration; spans arrive
over OTLP/HTTP and are read back through Jaeger's HTTP query API.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from support.procs import ManagedProcess, free_port, wait_for
from support.testbin import binary

TIER = "traces"

CONFIG = """
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
  telemetry:
    logs: {{level: warn}}
    metrics: {{level: none}}
extensions:
  jaeger_storage:
    backends:
      memstore: {{memory: {{max_traces: 100000}}}}
  jaeger_query:
    storage: {{traces: memstore}}
    http: {{endpoint: "127.0.0.1:{query}"}}
    grpc: {{endpoint: "127.0.0.1:{query_grpc}"}}
receivers:
  otlp:
    protocols:
      http: {{endpoint: "127.0.0.1:{otlp}"}}
exporters:
  jaeger_storage_exporter: {{trace_storage: memstore}}
"""


@dataclass(frozen=True)
class Span:
    """A span as Jaeger's query API returns it, flattened."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    service: str
    tags: dict[str, Any]


class Jaeger:
    def __init__(self, work_dir: Path, log_dir: Path) -> None:
        server = binary("traces", "jaeger", "tracing")
        self.otlp_port, query, query_grpc = free_port(), free_port(), free_port()
        config = work_dir / "jaeger.yaml"
        config.write_text(CONFIG.format(query=query, query_grpc=query_grpc, otlp=self.otlp_port))
        self.process = ManagedProcess(
            "jaeger", [str(server), "--config", str(config)], {"PATH": "/usr/bin:/bin"}, log_dir
        )
        self.api = httpx.Client(base_url=f"http://127.0.0.1:{query}", timeout=10)

    @property
    def otlp_endpoint(self) -> str:
        """For OTEL_EXPORTER_OTLP_ENDPOINT (the exporter adds /v1/traces)."""
        return f"http://127.0.0.1:{self.otlp_port}"

    def start(self) -> Jaeger:
        self.process.start()
        self.process.wait_until(
            lambda: self.api.get("/api/services").status_code == 200, timeout=60, what="jaeger"
        )
        return self

    def stop(self) -> None:
        self.api.close()
        self.process.stop()

    def trace(self, trace_id: str) -> list[Span]:
        """The spans of one trace stored so far ([] while none has arrived)."""
        answer = self.api.get(f"/api/traces/{trace_id}")
        if answer.status_code == 404:
            return []
        answer.raise_for_status()
        return [s for t in answer.json()["data"] or [] for s in _spans(t)]

    def traces(self, service: str, operation: str | None = None) -> list[list[Span]]:
        params = {"service": service, "limit": "100", "lookback": "1h"}
        if operation is not None:
            params["operation"] = operation
        answer = self.api.get("/api/traces", params=params)
        answer.raise_for_status()
        return [_spans(t) for t in answer.json()["data"] or []]

    def wait_for[T](self, find: Callable[[], T | None], what: str, timeout: float = 30.0) -> T:
        """Poll until `find` returns something (exporters send in batches, a few a second)."""
        result: T | None = None

        def check() -> bool:
            nonlocal result
            result = find()
            return bool(result)

        wait_for(check, timeout=timeout, what=what, interval=0.2)
        assert result is not None
        return result

    def trace_with(self, trace_id: str, *names: str) -> list[Span]:
        """The trace once every span named has arrived."""

        def find() -> list[Span] | None:
            spans = self.trace(trace_id)
            return spans if set(names) <= {s.name for s in spans} else None

        return self.wait_for(find, f"spans {names} of trace {trace_id}")


def _spans(trace: dict[str, Any]) -> list[Span]:
    services = {key: p["serviceName"] for key, p in trace["processes"].items()}
    spans = []
    for raw in trace["spans"]:
        parents = [r["spanID"] for r in raw.get("references") or [] if r["refType"] == "CHILD_OF"]
        spans.append(
            Span(
                # Jaeger drops a trace id's leading zeros: compare as 32 hex digits.
                trace_id=format(int(raw["traceID"], 16), "032x"),
                span_id=raw["spanID"],
                parent_id=parents[0] if parents else None,
                name=raw["operationName"],
                service=services[raw["processID"]],
                tags={t["key"]: t["value"] for t in raw.get("tags") or []},
            )
        )
    return spans


def by_name(spans: list[Span]) -> dict[str, Span]:
    """Spans by name; a name that appears twice is an error for the caller's shape check."""
    named: dict[str, Span] = {}
    for span in spans:
        assert span.name not in named, f"two {span.name} spans in {[s.name for s in spans]}"
        named[span.name] = span
    return named
