"""Tracing (OBS-5): OpenTelemetry spans, set up only from the standard `OTEL_*` variables.

Off unless `OTEL_TRACES_EXPORTER` names an exporter: then `span` and `child`
return one shared no-op context manager, a single global read. On, the SDK
(the service's and the operator's extras) exports in batches to an OTLP/HTTP
receiver. `child` makes a span only inside a recorded one, so work outside
any trace (background loops) and work under an unsampled request costs one
context lookup; a parent-based ratio sampler decides once, at the root.

Span names and attributes are a contract (docs/operations.md "Tracing"):
the attribute keys are the constants below.
"""

from __future__ import annotations

import atexit
import logging
import os
import random
import re
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, NamedTuple

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace import (
    INVALID_SPAN,
    Span,
    SpanKind,
    TraceFlags,
    Tracer,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes

import sigmawatch
from sigmawatch.settings import ConfigError
from sigmawatch.tracing_config import parse_config as parse_config  # re-exported

log = logging.getLogger(__name__)

# Attribute keys shared by the spans of every process (and the log fields' names).
SERIES_ID = "series_id"
VERSION = "version"
DETECTOR_KIND = "detector.kind"
DB_SYSTEM = "db.system.name"
DB_OPERATION = "db.operation.name"
ARTIFACT_KEY = "artifact.key"
ARTIFACT_BYTES = "artifact.bytes"

SHUTDOWN_S = 3.0  # what an exit waits for the last spans; a dead receiver costs no more
BAGGAGE_ENTRIES, BAGGAGE_CHARS = 8, 128  # what entry spans copy of a caller's baggage
# The spec's names for a trace context carried by environment variables (a Job's pod).
ENV_CARRIER = {"traceparent": "TRACEPARENT", "tracestate": "TRACESTATE", "baggage": "BAGGAGE"}

_NOOP: AbstractContextManager[Span] = nullcontext(INVALID_SPAN)
_tracer: Tracer | None = None
_running: Any = None  # tracing_setup.Running: the SDK's provider and its stopper
_decider: Decider | None = None
# A trace id decided before the SDK starts the span (start_entry); 0: the SDK draws one.
_CHOSEN: ContextVar[int] = ContextVar("sigmawatch_trace_id", default=0)
# W3C trace context and baggage, in and out, whatever OTEL_PROPAGATORS says.
_PROPAGATOR = CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])
_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_LOW64 = 2**64 - 1
_RANDOM_TRACE_ID = TraceFlags.RANDOM_TRACE_ID


class Unsampled(NamedTuple):
    """The trace of a request `start_entry` decided not to sample, without a span: it
    is kept in a context variable of its own (`enter_unsampled`), not in the OTel context,
    whose span object and attach cost ~6 µs a request (docs/performance.md). A
    tuple: a frozen dataclass's init alone costs a µs."""

    trace_id: int
    span_id: int
    flags: int

    def traceparent(self) -> str:
        return f"00-{self.trace_id:032x}-{self.span_id:016x}-{self.flags:02x}"


_UNSAMPLED: ContextVar[Unsampled | None] = ContextVar("sigmawatch_unsampled", default=None)


@dataclass(frozen=True, slots=True)
class Decider:
    """What the sampler decides that `start_entry` can tell without the SDK."""

    follows_parent: bool  # parentbased_*: an unsampled caller makes an unsampled request
    root_bound: int | None  # a new trace is sampled when its id's low 64 bits are below


def configure(
    service: str, environ: Mapping[str, str] | None = None, *, exporter: Any = None
) -> bool:
    """Start tracing for this process if the variables ask for it; True when on.

    `exporter` (a SpanExporter) replaces the configured ones: tests pass the
    SDK's in-memory exporter. Idempotent: a second call keeps the first set-up.
    """
    global _tracer, _running, _decider
    config = parse_config(os.environ if environ is None else environ, service)
    if _tracer is not None or not (config.enabled or exporter is not None):
        return _tracer is not None
    try:
        from sigmawatch import tracing_setup
    except ImportError:  # core alone: the SDK comes with the service's and operator's extras
        raise ConfigError(
            "OTEL_TRACES_EXPORTER is set but the OpenTelemetry SDK is not installed"
        ) from None
    _running = tracing_setup.Running(config, exporter, _CHOSEN)
    _tracer = _running.provider.get_tracer("sigmawatch", sigmawatch.__version__)
    _decider = tracing_setup.decider(config)
    atexit.unregister(shutdown)  # once, however often tests configure and shut down
    atexit.register(shutdown)
    log.info(
        "tracing on",
        extra={
            "exporters": list(config.exporters),
            "sampler": config.sampler,
            "ratio": config.ratio,
        },
    )
    return True


def shutdown(timeout_s: float = SHUTDOWN_S) -> None:
    """Flush and stop tracing, waiting at most `timeout_s` (the SDK would wait 30 s)."""
    global _tracer, _running, _decider
    running, _running, _tracer, _decider = _running, None, None, None
    if running is not None and not running.stop(timeout_s):
        log.warning("tracing shutdown timed out; the last spans may be lost")


def enabled() -> bool:
    return _tracer is not None


def span(
    name: str,
    attributes: Attributes = None,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    parent: otel_context.Context | None = None,
) -> AbstractContextManager[Span]:
    """A span that may start a trace (a CLI command, a training run, a reconcile).
    Under an unsampled parent none is made: a parent-based sampler drops it anyway."""
    tracer = _tracer
    if tracer is None or (parent is None and _UNSAMPLED.get() is not None):
        return _NOOP
    current = trace.get_current_span(parent).get_span_context()
    if current.is_valid and not current.trace_flags.sampled:
        return _NOOP
    return tracer.start_as_current_span(name, context=parent, kind=kind, attributes=attributes)


def child(
    name: str, attributes: Attributes = None, *, kind: SpanKind = SpanKind.INTERNAL
) -> AbstractContextManager[Span]:
    """A span only inside a recorded one: registry queries, artifact reads, scoring."""
    tracer = _tracer
    if tracer is None or not recording():
        return _NOOP
    return tracer.start_as_current_span(name, kind=kind, attributes=attributes)


def recording() -> bool:
    """Whether a span is recorded here, the condition of `child`. An unsampled request
    answers from its own context variable (one lookup), not the OTel context."""
    return (
        _tracer is not None and _UNSAMPLED.get() is None and trace.get_current_span().is_recording()
    )


def start_entry(
    name: str, carried: Mapping[str, str], *, kind: SpanKind = SpanKind.SERVER
) -> tuple[Span, otel_context.Context] | Unsampled:
    """The span a request enters with, continuing the trace context `carried` names
    (traceparent, tracestate, baggage), and the context to run it in; or, for the
    common unsampled cases, only its ids, to run under `enter_unsampled`. Tracing on.

    The SDK takes ~6 µs to start a span it then drops, as many to parse the
    headers: the common unsampled cases (no context under a ratio sampler, an
    unsampled `traceparent` under a parent-based one) are decided here, alike.
    """
    tracer, decider = _tracer, _decider
    assert tracer is not None
    assert decider is not None
    if not carried and decider.root_bound is not None:
        trace_id = random.getrandbits(128) or 1
        if trace_id & _LOW64 >= decider.root_bound:  # the common case: inline
            return Unsampled(trace_id, random.getrandbits(64) or 1, _RANDOM_TRACE_ID)
        token = _CHOSEN.set(trace_id)  # sampled: the SDK starts it on the same id
        try:
            span = tracer.start_span(name, context=otel_context.Context(), kind=kind)
        finally:
            _CHOSEN.reset(token)
        return span, trace.set_span_in_context(span)
    if decider.follows_parent and len(carried) == 1 and "traceparent" in carried:
        found = _TRACEPARENT.fullmatch(carried["traceparent"])
        if found and found[1].strip("0") and found[2].strip("0") and not int(found[3], 16) & 1:
            flags = int(found[3], 16) & TraceFlags.RANDOM_TRACE_ID
            return _dropped(int(found[1], 16), flags)
    parent = extract(carried) if carried else None
    span = tracer.start_span(name, context=parent, kind=kind)
    return span, trace.set_span_in_context(span, parent)


def _dropped(trace_id: int, flags: int) -> Unsampled:
    """An unsampled entry as the SDK would decide it: the trace, a span id of its own."""
    return Unsampled(trace_id, random.getrandbits(64) or 1, flags)


# Run inside an unsampled request's trace (`token = enter_unsampled(u)`, later
# `leave_unsampled(token)`): no spans, its ids in logs and audits, and its
# `traceparent` (not sampled) on what it calls. The context variable's own methods,
# with no Python frame of ours: they are on every unsampled request.
enter_unsampled = _UNSAMPLED.set
leave_unsampled = _UNSAMPLED.reset


def _active() -> tuple[int, int] | Unsampled | None:
    """The active (trace id, span id): a span's in the OTel context, else an unsampled
    request's (`enter_unsampled`); None outside any trace."""
    found = trace.get_current_span().get_span_context()
    if found.is_valid:
        return found.trace_id, found.span_id
    return _UNSAMPLED.get()


def current_ids() -> tuple[str, str] | None:
    """The active trace's and span's ids (32 and 16 hex digits), sampled or not."""
    active = _active()
    return None if active is None else (format(active[0], "032x"), format(active[1], "016x"))


def current_trace_id() -> str | None:
    """The active trace's id as 32 hex digits, sampled or not; None outside any."""
    active = _active()
    return None if active is None else format(active[0], "032x")


def inject(headers: dict[str, str]) -> dict[str, str]:
    """Add the current trace context and baggage to outgoing headers (when tracing is on)."""
    if _tracer is None:
        return headers
    active = _active()
    if isinstance(active, Unsampled):  # not in the OTel context: the propagator misses it
        headers["traceparent"] = active.traceparent()
        return headers
    _PROPAGATOR.inject(headers)
    return headers


def extract(headers: Mapping[str, str]) -> otel_context.Context:
    return _PROPAGATOR.extract(headers)


def environment() -> dict[str, str]:
    """The current trace context as environment variables, for a process started for it."""
    return {ENV_CARRIER[k]: v for k, v in inject({}).items() if k in ENV_CARRIER}


@contextmanager
def continued(environ: Mapping[str, str]) -> Iterator[None]:
    """Run inside the trace context a parent process left in TRACEPARENT and BAGGAGE;
    with tracing off the logs still name the parent's trace."""
    carried = {k: environ[v] for k, v in ENV_CARRIER.items() if environ.get(v)}
    if not carried:
        yield
        return
    token = otel_context.attach(extract(carried))
    try:
        yield
    finally:
        otel_context.detach(token)
