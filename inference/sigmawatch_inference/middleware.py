"""Pure ASGI middleware: body size limit and per-route metrics.

Written against the ASGI interface (not BaseHTTPMiddleware) so the hot path
pays one function call per layer and streaming stays untouched.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch_inference.metrics import Metrics
from sigmawatch_inference.responses import error_response
from sigmawatch_inference.stats_buffer import TrackBuffer


class BodyTooLargeError(Exception):
    pass


class BodyLimit:
    """Reject bodies over the limit before they are parsed (SEC-1).

    A declared Content-Length over the limit is answered at once; a chunked
    body is counted as it arrives and cut off when it crosses the limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self, received: int | None) -> SigmawatchError:
        return SigmawatchError(
            ErrorCode.PAYLOAD_TOO_LARGE,
            f"request body exceeds {self.max_bytes} bytes",
            max_bytes=self.max_bytes,
            received=received,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await error_response(self._too_large(declared))(scope, receive, send)
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLargeError
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLargeError:
            if not started:
                await error_response(self._too_large(received))(scope, receive, send)


class RequestMetrics:
    """Count, time and classify every request by its route template (MON-1), and count
    those in flight (OBS-1)."""

    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics,
        timed_routes: frozenset[str],
        tracks: TrackBuffer | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        # Routes whose latency also feeds /healthcheck's inference window and,
        # under this pod's track, an Istio rollout's analysis.
        self.timed_routes = timed_routes
        self.tracks = tracks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()
        in_flight = self.metrics.system.in_flight  # OBS-1
        in_flight.value += 1

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            in_flight.value -= 1
            elapsed = time.perf_counter() - started
            route: Any = scope.get("route")
            path = getattr(route, "path", "unmatched")
            method = scope["method"]
            self.metrics.requests.labels(path, method, str(status)).inc()
            self.metrics.latency.labels(path, method).observe(elapsed)
            if path in self.timed_routes:
                if status < 400:
                    self.metrics.inference_ms.add(elapsed * 1000.0)
                if self.tracks is not None:
                    self.tracks.request(elapsed * 1000.0, error=status >= 500)
