"""What the tracing unit tests share (OBS-5): a caller's trace context, an in-memory
exporter, and tracing switched off again after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from sigmawatch import tracing

PARENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN = "00f067aa0ba902b7"
SAMPLED = f"00-{PARENT_TRACE}-{PARENT_SPAN}-01"
UNSAMPLED = f"00-{PARENT_TRACE}-{PARENT_SPAN}-00"


@pytest.fixture(autouse=True)
def tracing_off_after() -> Iterator[None]:
    tracing.shutdown()
    yield
    tracing.shutdown()


@pytest.fixture
def spans() -> InMemorySpanExporter:
    """Tracing on with every span sampled, kept in memory."""
    exporter = InMemorySpanExporter()
    assert tracing.configure("unit", {}, exporter=exporter)
    return exporter
