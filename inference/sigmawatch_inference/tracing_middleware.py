"""`TraceRequests`: one SERVER span per HTTP request (OBS-5), pure ASGI as the others.

Installed only while tracing is on (`sigmawatch.tracing.configure`). The
caller's W3C `traceparent`, `tracestate` and `baggage` are continued; the
span is current for everything the request does, so registry, artifact,
model-load and scoring spans are its children and the audit log and the
log lines carry its trace id. An unsampled request pays for the header
scan, one sampling decision (`tracing.start_entry`) and a context switch;
attributes are only computed for spans that are recorded.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.trace import Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sigmawatch import tracing

_PROPAGATED = frozenset({b"traceparent", b"tracestate", b"baggage"})


class TraceRequests:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not tracing.enabled():
            await self.app(scope, receive, send)
            return
        carried = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in _PROPAGATED
        }
        method = scope["method"]
        entry = tracing.start_entry(method, carried)
        if isinstance(entry, tracing.Unsampled):  # its ids are all the request needs
            unsampled = tracing.enter_unsampled(entry)
            try:
                await self.app(scope, receive, send)
            finally:
                tracing.leave_unsampled(unsampled)
            return
        span, context = entry
        token = otel_context.attach(context)
        try:
            if span.is_recording():
                await self._recorded(span, scope, receive, send)
            else:  # unsampled: the context (ids, baggage) is all the request needs
                await self.app(scope, receive, send)
        finally:
            otel_context.detach(token)

    async def _recorded(self, span: Any, scope: Scope, receive: Receive, send: Send) -> None:
        status = 500  # an exception that escapes answers 500 (Starlette's outer layer)

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        except BaseException as exc:
            span.record_exception(exc)
            raise
        finally:
            _describe(span, scope, scope["method"], status)
            span.end()


def _describe(span: Any, scope: Scope, method: str, status: int) -> None:
    """Name the span by its route template (low cardinality) and add the HTTP attributes."""
    route = getattr(scope.get("route"), "path", None)
    if route is not None:
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)
    span.set_attributes(
        {
            "http.request.method": method,
            "http.response.status_code": status,
            "url.path": scope["path"],
            "url.scheme": scope.get("scheme", "http"),
        }
    )
    params = scope.get("path_params") or {}
    if "series_id" in params:
        span.set_attribute(tracing.SERIES_ID, params["series_id"])
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))
