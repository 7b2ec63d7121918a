"""The entry span and propagation in process (OBS-5): `tracing.start_entry`'s own
sampling decisions against the SDK's, the HTTP server span, and the trace
context on outgoing S3 requests. tests/traces checks the same against Jaeger.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import httpx
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from opentelemetry import baggage, trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision, TraceIdRatioBased
from opentelemetry.trace import SpanKind
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from sigmawatch import tracing
from sigmawatch.artifacts.s3 import S3Store
from sigmawatch_inference.tracing_middleware import TraceRequests
from support.spans import PARENT_SPAN, PARENT_TRACE, SAMPLED, UNSAMPLED, spans, tracing_off_after

__all__ = ["spans", "tracing_off_after"]  # fixtures


# -- the HTTP server span -------------------------------------------------------------


async def _answer(request: Request) -> PlainTextResponse:
    return PlainTextResponse(tracing.current_trace_id() or "", status_code=201)


def _requests(*calls: tuple[str, str, dict[str, str]]) -> list[httpx.Response]:
    app = Starlette(routes=[Route("/v1/series/{series_id}/predict", _answer, methods=["POST"])])

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=TraceRequests(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return [await client.request(m, url, headers=h) for m, url, h in calls]

    # A thread of its own: an earlier test of the session may leave a loop running here.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


def test_server_span_continues_the_callers_trace(spans: InMemorySpanExporter) -> None:
    headers = {"traceparent": SAMPLED, "baggage": "tenant=acme,site=7"}
    (answer,) = _requests(("POST", "/v1/series/pump_1/predict", headers))
    assert answer.status_code == 201
    assert answer.text == PARENT_TRACE  # what the app (and the audit log) sees
    (span,) = spans.get_finished_spans()
    assert span.name == "POST /v1/series/{series_id}/predict"
    assert span.kind is SpanKind.SERVER
    assert span.parent is not None
    assert span.parent.is_remote
    assert format(span.parent.span_id, "016x") == PARENT_SPAN
    assert dict(span.attributes or {}) == {
        "http.route": "/v1/series/{series_id}/predict",
        "http.request.method": "POST",
        "http.response.status_code": 201,
        "url.path": "/v1/series/pump_1/predict",
        "url.scheme": "http",
        tracing.SERIES_ID: "pump_1",
        "baggage.tenant": "acme",
        "baggage.site": "7",
    }


def test_server_span_of_an_unsampled_caller_is_not_recorded(
    spans: InMemorySpanExporter,
) -> None:
    answer, unmatched = _requests(
        ("POST", "/v1/series/pump_1/predict", {"traceparent": UNSAMPLED}), ("GET", "/nowhere", {})
    )
    assert answer.text == PARENT_TRACE
    assert unmatched.status_code == 404
    (span,) = spans.get_finished_spans()  # the 404, a trace of its own
    assert span.name == "GET"
    assert span.attributes is not None
    assert span.attributes["http.response.status_code"] == 404


# -- outgoing calls -------------------------------------------------------------------


class _NoBody:
    def stream(self, **_: object) -> Iterator[bytes]:
        yield b""


def test_s3_requests_carry_the_trace_outside_the_signature(
    spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The header is added after signing, so S3 still verifies the request."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    # boto3's default session keeps the credentials it first resolves: a session of
    # this test's own, so later tests' clients do not sign with these.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    store = S3Store("bucket", "root", endpoint_url="http://127.0.0.1:9", region="us-east-1")
    sent: list[dict[str, Any]] = []

    def answer(request: Any, **_: object) -> Any:  # instead of the network
        sent.append(dict(request.headers))
        return AWSResponse(request.url, 200, HTTPHeaders(), _NoBody())

    store.client.meta.events.register("before-send.s3", answer)
    store.put("outside/a-trace", b"x")
    with tracing.continued({"TRACEPARENT": SAMPLED}), tracing.span("job"):
        store.put("inside/a-trace", b"x")
    outside, inside = sent
    assert "traceparent" not in outside
    assert inside["traceparent"].split("-")[1] == PARENT_TRACE
    signed = inside["Authorization"].decode().split("SignedHeaders=")[1].split(",")[0]
    assert "traceparent" not in signed.split(";")


# -- the entry span's own sampling decisions --------------------------------------------


def recording(entry: tuple[Any, Any] | tracing.Unsampled) -> bool:
    """Whether `start_entry` made a recorded span (one decided unsampled has none)."""
    return not isinstance(entry, tracing.Unsampled) and bool(entry[0].is_recording())


def test_entry_ratio_decisions_match_the_sdks_sampler() -> None:
    """A root decided without the SDK is sampled exactly when TraceIdRatioBased would,
    and a sampled one keeps the id it was decided on."""
    exporter = InMemorySpanExporter()
    environ = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"}
    tracing.configure("svc", environ, exporter=exporter)
    sampler = TraceIdRatioBased(0.25)
    recorded = []
    for _ in range(2000):
        entry = tracing.start_entry("GET", {})
        recorded_here = recording(entry)
        if isinstance(entry, tracing.Unsampled):
            trace_id = entry.trace_id
        else:
            span, context = entry
            trace_id = span.get_span_context().trace_id
            assert trace.get_current_span(context) is span
            span.end()
        decision = sampler.should_sample(None, trace_id, "GET").decision
        assert recorded_here == (decision is Decision.RECORD_AND_SAMPLE)
        if recorded_here:
            recorded.append(trace_id)
    assert 350 < len(recorded) < 650
    assert [s.context.trace_id for s in exporter.get_finished_spans()] == recorded


def test_entry_under_an_unsampled_caller_keeps_its_trace_and_records_nothing(
    spans: InMemorySpanExporter,
) -> None:
    entry = tracing.start_entry("POST", {"traceparent": UNSAMPLED.replace("-00", "-02")})
    assert isinstance(entry, tracing.Unsampled)  # decided without the SDK: no span at all
    assert format(entry.trace_id, "032x") == PARENT_TRACE
    assert format(entry.span_id, "016x") != PARENT_SPAN
    assert entry.flags == 0x02  # not sampled; the caller's random-id flag kept
    token = tracing.enter_unsampled(entry)
    try:
        assert tracing.current_trace_id() == PARENT_TRACE
        assert tracing.inject({}) == {"traceparent": entry.traceparent()}
        assert not tracing.recording()
        with tracing.span("training.series"), tracing.child("model.score"):
            pass  # under an unsampled request: neither is made
    finally:
        tracing.leave_unsampled(token)
    assert tracing.current_trace_id() is None
    with_baggage = tracing.start_entry("POST", {"traceparent": UNSAMPLED, "baggage": "k=v"})
    assert not isinstance(with_baggage, tracing.Unsampled)  # the SDK's: baggage goes on
    span, context = with_baggage
    assert not span.is_recording()
    assert baggage.get_all(context) == {"k": "v"}
    # Unreadable: a new trace, as the SDK makes it.
    assert recording(tracing.start_entry("POST", {"traceparent": "00-zz-not-a-traceparent"}))
    assert spans.get_finished_spans() == ()


def test_entry_with_always_off_or_on() -> None:
    tracing.configure("svc", {"OTEL_TRACES_SAMPLER": "always_off"}, exporter=InMemorySpanExporter())
    assert not recording(tracing.start_entry("GET", {"traceparent": SAMPLED}))  # not parent-based
    root = tracing.start_entry("GET", {})
    assert isinstance(root, tracing.Unsampled)
    assert root.trace_id != 0
    tracing.shutdown()
    tracing.configure("svc", {}, exporter=InMemorySpanExporter())
    assert recording(tracing.start_entry("GET", {}))
    assert not recording(tracing.start_entry("GET", {"traceparent": UNSAMPLED}))
