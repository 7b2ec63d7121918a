"""Tracing set-up from the OTEL_* variables, and the spans' shape, in process (OBS-5).

The SDK's in-memory exporter stands in for a receiver here; tests/traces
sends the same spans to a real Jaeger.
"""

from __future__ import annotations

import time

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from sigmawatch import tracing
from sigmawatch.settings import ConfigError
from support.spans import PARENT_TRACE, SAMPLED, spans, tracing_off_after

__all__ = ["spans", "tracing_off_after"]  # fixtures


def by_name(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    return {span.name: span for span in exporter.get_finished_spans()}


# -- configuration --------------------------------------------------------------------


def test_off_by_default_and_the_off_path_is_one_shared_noop() -> None:
    config = tracing.parse_config({}, "svc")
    assert not config.enabled
    assert not tracing.configure("svc", {})
    assert not tracing.enabled()
    assert tracing.span("a") is tracing.child("b") is tracing.span("c", {"k": 1})
    with tracing.span("a") as span:
        assert not span.is_recording()
    assert tracing.environment() == {}
    assert tracing.current_trace_id() is None


@pytest.mark.parametrize(
    "environ",
    [
        {"OTEL_TRACES_EXPORTER": "none"},
        {"OTEL_TRACES_EXPORTER": ""},
        {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"},
    ],
)
def test_exporter_none_or_sdk_disabled_is_off(environ: dict[str, str]) -> None:
    assert not tracing.parse_config(environ, "svc").enabled


def test_endpoint_from_the_standard_variables() -> None:
    on = {"OTEL_TRACES_EXPORTER": "otlp"}
    assert tracing.parse_config(on, "s").endpoint == "http://localhost:4318/v1/traces"
    base = on | {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"}
    assert tracing.parse_config(base, "s").endpoint == "http://collector:4318/v1/traces"
    full = base | {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://x:9/custom"}
    assert tracing.parse_config(full, "s").endpoint == "https://x:9/custom"
    assert tracing.parse_config(on | {"OTEL_TRACES_EXPORTER": "otlp,console"}, "s").exporters == (
        "otlp",
        "console",
    )


def test_sampler_and_ratio() -> None:
    config = tracing.parse_config(
        {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.01"}, "s"
    )
    assert (config.sampler, config.ratio) == ("parentbased_traceidratio", 0.01)
    assert tracing.parse_config({}, "s").sampler == "parentbased_always_on"  # the spec's default


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER"),
        ({"OTEL_TRACES_SAMPLER": "sometimes"}, "OTEL_TRACES_SAMPLER"),
        (
            {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1.5"},
            "OTEL_TRACES_SAMPLER_ARG",
        ),
        (
            {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "often"},
            "OTEL_TRACES_SAMPLER_ARG",
        ),
        (
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, "OTEL_EXPORTER_OTLP_ENDPOINT"),
        ({"OTEL_RESOURCE_ATTRIBUTES": "no-equals-sign"}, "OTEL_RESOURCE_ATTRIBUTES"),
    ],
)
def test_bad_values_are_refused_naming_the_variable(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        tracing.parse_config(environ, "s")


def test_resource_attributes_and_service_name() -> None:
    resource = tracing.parse_config({}, "sigmawatch-training").resource
    assert resource["service.name"] == "sigmawatch-training"
    given = {"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod,team=a%20b"}
    resource = tracing.parse_config(given, "svc").resource
    assert resource["deployment.environment"] == "prod"
    assert resource["team"] == "a b"
    named = given | {"OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attrs"}
    assert tracing.parse_config(named, "svc").resource["service.name"] == "from-attrs"
    named |= {"OTEL_SERVICE_NAME": "from-name"}
    assert tracing.parse_config(named, "svc").resource["service.name"] == "from-name"


def test_the_provider_carries_the_resource() -> None:
    exporter = InMemorySpanExporter()
    tracing.configure("svc", {"OTEL_RESOURCE_ATTRIBUTES": "k8s.pod.name=p-1"}, exporter=exporter)
    with tracing.span("root"):
        pass
    (span,) = exporter.get_finished_spans()
    assert span.resource.attributes["service.name"] == "svc"
    assert span.resource.attributes["k8s.pod.name"] == "p-1"


# -- spans ----------------------------------------------------------------------------


def test_children_only_inside_a_recorded_span(spans: InMemorySpanExporter) -> None:
    with tracing.child("orphan"):  # a background call outside any trace
        assert not tracing.recording()
    assert spans.get_finished_spans() == ()
    with tracing.span("root") as root, tracing.child("kid", {tracing.SERIES_ID: "s1"}):
        assert tracing.recording()  # what the resident path checks before its span
        assert tracing.current_trace_id() == format(root.get_span_context().trace_id, "032x")
    found = by_name(spans)
    assert set(found) == {"root", "kid"}
    assert found["kid"].parent is not None
    assert found["kid"].parent.span_id == found["root"].context.span_id
    assert found["kid"].attributes == {tracing.SERIES_ID: "s1"}


def test_ratio_zero_records_nothing_but_a_sampled_parent_still_wins() -> None:
    exporter = InMemorySpanExporter()
    environ = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"}
    tracing.configure("svc", environ, exporter=exporter)
    with tracing.span("root") as root, tracing.child("kid"):
        assert not root.is_recording()
        assert tracing.current_trace_id() is not None  # unsampled still has an id (audit, logs)
    assert exporter.get_finished_spans() == ()
    with tracing.continued({"TRACEPARENT": SAMPLED}), tracing.span("joined"):
        pass
    (joined,) = exporter.get_finished_spans()
    assert format(joined.context.trace_id, "032x") == PARENT_TRACE


def test_environment_round_trip_continues_the_trace_and_carries_baggage(
    spans: InMemorySpanExporter,
) -> None:
    """The operator's TRACEPARENT/BAGGAGE in a Job's env: its spans join the trace."""
    with tracing.span("operator.reconcile") as reconcile:
        carried = tracing.environment()
    assert set(carried) == {"TRACEPARENT"}
    carried["BAGGAGE"] = "tenant=acme"
    with tracing.continued(carried), tracing.span("training.run"):
        pass
    found = by_name(spans)
    run = found["training.run"]
    assert run.context.trace_id == reconcile.get_span_context().trace_id
    assert run.parent is not None
    assert run.parent.span_id == reconcile.get_span_context().span_id
    assert run.attributes is not None
    assert run.attributes["baggage.tenant"] == "acme"


def test_inject_adds_traceparent_and_baggage_for_outgoing_calls(
    spans: InMemorySpanExporter,
) -> None:
    assert tracing.inject({}) == {}  # no trace, nothing to send
    with tracing.continued({"TRACEPARENT": SAMPLED, "BAGGAGE": "k=v"}), tracing.span("out"):
        headers = tracing.inject({"accept": "application/json"})
    assert headers["traceparent"].split("-")[1] == PARENT_TRACE
    assert headers["baggage"] == "k=v"
    assert headers["accept"] == "application/json"


class _StuckExporter(InMemorySpanExporter):
    def shutdown(self) -> None:
        time.sleep(5)

    def export(self, spans: object) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def test_shutdown_is_bounded_when_the_receiver_hangs() -> None:
    tracing.configure("svc", {}, exporter=_StuckExporter())
    started = time.monotonic()
    tracing.shutdown(timeout_s=0.3)
    assert time.monotonic() - started < 2.0
    assert not tracing.enabled()
