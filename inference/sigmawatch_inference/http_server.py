"""How `sigmawatch serve` runs uvicorn: request timeouts, TLS, no banner (SEC-1, SEC-5).

uvicorn closes idle keep-alive connections (`timeout_keep_alive`) and
nothing else: a connection that sends half a request head, or stops in the
middle of a body, stays open for good, and a few hundred of them use up the
process's file descriptors (slowloris). `GuardedHttpTools` is uvicorn's
httptools protocol plus two deadlines:

- the **head**: from the moment a connection opens, or the first byte of a
  request on it, the request line and headers must be complete within
  `SIGMAWATCH_HEADER_TIMEOUT_S`; more header bytes do not extend it;
- the **body**: a body in progress may pause at most
  `SIGMAWATCH_BODY_TIMEOUT_S` between two chunks (not counted while the
  app does not read and uvicorn has stopped reading the socket for it).

A request that arrives whole with its packets, nearly all of them, arms no
timer: one is armed only when a packet leaves a request incomplete. An
expired request is answered `408 REQUEST_TIMEOUT` in the error envelope
and closed; a connection that never sent a byte is closed silently. Bytes
that are not HTTP get `400 MALFORMED_REQUEST` in the envelope rather than
uvicorn's plain text. The protocol is passed to uvicorn as a
`functools.partial` carrying the two deadlines.

With TLS, the handshake comes first and has asyncio's own timeout (60 s);
the context refuses anything below TLS 1.2.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import ssl
from collections.abc import Callable
from typing import Any, cast

import orjson
import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from sigmawatch.errors import HTTP_STATUS, ErrorCode
from sigmawatch_inference.guards import SECURITY_HEADERS
from sigmawatch_inference.settings import ServiceSettings


class _Phase(enum.Enum):
    IDLE = "idle"  # between requests (or before the first)
    HEAD = "head"  # a request line or headers arriving
    BODY = "body"  # headers done, body arriving


class GuardedHttpTools(HttpToolsProtocol):
    def __init__(
        self,
        *args: Any,
        header_timeout_s: float,
        body_timeout_s: float,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout_s = header_timeout_s
        self.body_timeout_s = body_timeout_s
        self._phase = _Phase.IDLE
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None

    # -- the parser's callbacks mark where the current request is ----------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._phase = _Phase.HEAD

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._phase = _Phase.BODY

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._phase = _Phase.IDLE

    # -- connection events arm and disarm the deadlines -----------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_expired)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.transport.is_closing():
            self._disarm()
            return
        if self._phase is _Phase.HEAD:
            if self._head_timer is None:  # a deadline per head: trickled bytes do not move it
                self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_expired)
        elif self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        if self._phase is _Phase.BODY:  # progress: the pause allowed starts again
            self._body_timer = self.loop.call_later(self.body_timeout_s, self._body_expired)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _disarm(self) -> None:
        for timer in (self._head_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = None

    def _answering(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def _head_expired(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._phase is _Phase.HEAD and self._answering():
            # A pipelined head behind a request still being answered: wait for that one.
            self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_expired)
        elif self._phase is _Phase.HEAD:
            self._refuse(
                ErrorCode.REQUEST_TIMEOUT,
                f"the request head did not arrive within {self.header_timeout_s:g} s",
            )
        elif self.cycle is None:  # connected and never sent a byte
            self.transport.close()

    def _body_expired(self) -> None:
        self._body_timer = None
        if self.transport.is_closing() or self._phase is not _Phase.BODY:
            return
        if self.flow.read_paused:  # the app is not reading: no fault of the client's
            self._body_timer = self.loop.call_later(self.body_timeout_s, self._body_expired)
            return
        if self.cycle.response_started:
            self.transport.close()
            return
        # The app waits for the rest of the body; once closed, it sees a disconnect.
        self._refuse(
            ErrorCode.REQUEST_TIMEOUT,
            f"the request body paused for more than {self.body_timeout_s:g} s",
        )

    # -- answers from the protocol itself, in the error envelope --------------------------

    def send_400_response(self, msg: str) -> None:
        self._refuse(ErrorCode.MALFORMED_REQUEST, "the request is not valid HTTP/1.1")

    def _refuse(self, code: ErrorCode, message: str) -> None:
        body = orjson.dumps({"error": {"code": code.value, "message": message, "details": {}}})
        head = [STATUS_LINE[HTTP_STATUS[code]]]
        headers = [
            *self.server_state.default_headers,
            *SECURITY_HEADERS,
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        head.extend(name + b": " + value + b"\r\n" for name, value in headers)
        self.transport.write(b"".join([*head, b"\r\n", body]))
        self.transport.close()


def tls_context(config: uvicorn.Config, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
    """uvicorn's context for the certificate and key, refusing TLS below 1.2 (SEC-5).

    Python's default minimum is already 1.2; set here so that no OpenSSL
    configuration or Python default can lower it.
    """
    context = default()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def uvicorn_options(settings: ServiceSettings) -> dict[str, Any]:
    """Keyword arguments of `uvicorn.run` for these settings (also bench/bench_app.py's)."""
    protocol = functools.partial(
        GuardedHttpTools,
        header_timeout_s=settings.header_timeout_s,
        body_timeout_s=settings.body_timeout_s,
    )
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "access_log": settings.access_log,
        "log_config": None,
        "loop": "uvloop",
        # uvicorn calls whatever it is given with its protocol arguments.
        "http": cast(type[asyncio.Protocol], protocol),
        "server_header": False,
        "timeout_keep_alive": settings.keep_alive_s,
        "timeout_graceful_shutdown": 10,
    }
    if settings.tls_cert_file is not None and settings.tls_key_file is not None:
        options |= {
            "ssl_certfile": str(settings.tls_cert_file),
            "ssl_keyfile": str(settings.tls_key_file),
            "ssl_context_factory": tls_context,
        }
    return options
