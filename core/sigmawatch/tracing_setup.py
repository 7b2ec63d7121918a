"""The OpenTelemetry SDK set up for `sigmawatch.tracing` (imported only when tracing is on).

The provider, its sampler, exporters and span processors, built from a
`TracingConfig`; and its bounded shutdown.
"""

from __future__ import annotations

import sys
import threading
from contextvars import ContextVar
from typing import Any

from opentelemetry import baggage, trace
from opentelemetry import context as otel_context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider, sampling
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

from sigmawatch import tracing
from sigmawatch.tracing_config import TracingConfig


class Running:
    """The process's provider, and a thread started with it that shuts it down when
    asked: at interpreter exit no new thread may start, and the SDK's wait is 30 s."""

    def __init__(self, config: TracingConfig, exporter: Any, chosen: ContextVar[int]) -> None:
        self.provider = TracerProvider(
            sampler=_sampler(config),
            resource=Resource.create(config.resource),
            id_generator=_ChosenIds(chosen),
            shutdown_on_exit=False,  # `stop` instead: bounded
        )
        self.provider.add_span_processor(_BaggageAttributes())
        if exporter is not None:  # tests: the SDK's in-memory exporter
            self.provider.add_span_processor(SimpleSpanProcessor(exporter))
        else:
            for name in config.exporters:
                self.provider.add_span_processor(BatchSpanProcessor(_exporter(name, config)))
        if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
            trace.set_tracer_provider(self.provider)  # the API allows one per process
        self.asked = threading.Event()
        self.stopper = threading.Thread(target=self._stop, name="tracing-shutdown", daemon=True)
        self.stopper.start()

    def _stop(self) -> None:
        self.asked.wait()
        self.provider.shutdown()

    def stop(self, timeout_s: float) -> bool:
        self.asked.set()
        self.stopper.join(timeout_s)
        return not self.stopper.is_alive()


def decider(config: TracingConfig) -> tracing.Decider:
    ratio = config.sampler.endswith("traceidratio")
    bound = sampling.TraceIdRatioBased.get_bound_for_rate(config.ratio) if ratio else None
    if config.sampler.endswith("always_off"):
        bound = 0
    return tracing.Decider(config.sampler.startswith("parentbased_"), bound)


class _ChosenIds(RandomIdGenerator):
    """Random ids, but the trace id `start_entry` already sampled on when it set one."""

    def __init__(self, chosen: ContextVar[int]) -> None:
        self.chosen = chosen

    def generate_trace_id(self) -> int:
        return self.chosen.get() or super().generate_trace_id()


def _sampler(config: TracingConfig) -> Any:
    root = {
        "always_on": sampling.ALWAYS_ON,
        "always_off": sampling.ALWAYS_OFF,
        "traceidratio": sampling.TraceIdRatioBased(config.ratio),
    }[config.sampler.removeprefix("parentbased_")]
    return sampling.ParentBased(root) if config.sampler.startswith("parentbased_") else root


def _exporter(name: str, config: TracingConfig) -> Any:
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter(out=sys.stderr)  # stdout carries the CLI's JSON answers
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    # Headers, timeout and compression: the exporter reads OTEL_EXPORTER_OTLP_* itself.
    return OTLPSpanExporter(endpoint=config.endpoint)


class _BaggageAttributes(SpanProcessor):
    """Entry spans (a root, or the first span under a caller's context) carry the
    caller's baggage as `baggage.<key>` attributes, bounded in count and size."""

    def on_start(self, span: Any, parent_context: otel_context.Context | None = None) -> None:
        parent = trace.get_current_span(parent_context).get_span_context()
        if parent.is_valid and not parent.is_remote:
            return
        entries = list(baggage.get_all(parent_context).items())[: tracing.BAGGAGE_ENTRIES]
        for key, value in entries:
            span.set_attribute(f"baggage.{key[:64]}", str(value)[: tracing.BAGGAGE_CHARS])
