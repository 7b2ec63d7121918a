"""`Authenticate`: every request's route rule, caller and role, before the app sees it.

Pure ASGI, as the other middleware: one pass over the headers, one rule
match, and for a key a cached lookup, so an authenticated prediction costs
microseconds more than an open one (docs/performance.md). The request then
runs as its actor (`sigmawatch.audit.acting_as`), so whatever the registry
records on its behalf names it. Refused and failed requests to
state-changing routes are audited here, since they change nothing the
registry would record.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from anyio import to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sigmawatch import tracing
from sigmawatch.audit import Actor, AuditEntry, acting_as
from sigmawatch.errors import SigmawatchError
from sigmawatch.registry import Registry
from sigmawatch_inference.responses import error_response
from sigmawatch_inference.security.clients import Network, client_address
from sigmawatch_inference.security.identify import ANONYMOUS, UNCHECKED, Identify, forbidden
from sigmawatch_inference.security.routes import Rule, rule_for

log = logging.getLogger(__name__)

_REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,128}")
_TRACEPARENT = re.compile(rb"[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")


@dataclass(slots=True)
class _Answered:
    status: int = 500
    body: bytes = b""


class Authenticate:
    def __init__(
        self,
        app: ASGIApp,
        identify: Identify,
        proxies: tuple[Network, ...],
        registry: Callable[[], Registry | None],
    ) -> None:
        self.app = app
        self.identify = identify
        self.proxies = proxies
        self.registry = registry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rule, params = rule_for(scope["method"], scope["path"])
        if rule.role is None:  # probes, metrics, static assets
            await self.app(scope, receive, send)
            return
        api_key = authorization = request_id = correlation_id = traceparent = forwarded = None
        for name, value in scope["headers"]:
            if name == b"x-api-key":
                api_key = value
            elif name == b"authorization":
                authorization = value
            elif name == b"x-request-id":
                request_id = value
            elif name == b"x-correlation-id":
                correlation_id = value
            elif name == b"traceparent":
                traceparent = value
            elif name == b"x-forwarded-for":
                forwarded = value
        peer = scope.get("client")
        request = _request_id(request_id, needed=rule.action is not None)
        actor = Actor(
            ANONYMOUS.name,
            client_address(peer[0] if peer else None, forwarded, self.proxies),
            request,
            _trace_id(traceparent),
            # A caller's operation (OBS-3); without one the request is its own.
            _valid_id(correlation_id) or request,
        )
        principal = UNCHECKED
        try:
            if self.identify.enabled:
                principal = await self.identify.principal(api_key, authorization)
                if principal is ANONYMOUS:
                    raise self.identify.missing()
            actor = dataclasses.replace(actor, name=principal.name)
            assert rule.role is not None
            if principal.role is None or not principal.role.allows(rule.role):
                raise forbidden(principal, rule.role)
        except SigmawatchError as error:
            response = error_response(error)
            if error.http_status == 401:
                response.headers["WWW-Authenticate"] = self.identify.challenge
            if rule.action is not None:  # before the answer: the log has it once it arrives
                await self._record(rule, params, actor, f"refused:{error.code.value}")
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        with acting_as(actor):
            if rule.action is None:
                await self.app(scope, receive, send)
                return
            answered = _Answered()

            async def capture(message: Message) -> None:
                if message["type"] == "http.response.start":
                    answered.status = message["status"]
                elif message["type"] == "http.response.body":
                    if answered.status >= 400:
                        answered.body += message.get("body", b"")[:4096]
                    if not message.get("more_body", False):
                        await self._settle(rule, params, actor, answered)
                await send(message)

            await self.app(scope, receive, capture)

    async def _settle(
        self, rule: Rule, params: dict[str, str], actor: Actor, answered: _Answered
    ) -> None:
        """Record how an audited request ended, before its last byte is sent."""
        if answered.status >= 400:
            outcome = "failed" if answered.status >= 500 else "refused"
            await self._record(rule, params, actor, f"{outcome}:{_code(answered.body)}")
        elif rule.audit_success:
            await self._record(rule, params, actor, "stored")

    async def _record(self, rule: Rule, params: dict[str, str], actor: Actor, outcome: str) -> None:
        registry = self.registry()
        if registry is None or rule.action is None:
            return
        version = params.get("version", "")
        entry = AuditEntry(
            rule.action,
            outcome,
            params.get("series_id", "")[:128] or None,
            int(version[1:]) if re.fullmatch(r"v\d{1,9}", version) else None,
            {k: v[:128] for k, v in params.items() if k not in ("series_id", "version")},
            actor=actor,
        )
        try:
            await to_thread.run_sync(registry.record_audit, [entry])
        except SigmawatchError:
            log.warning("could not write an audit entry", extra={"action": rule.action})


def _valid_id(given: bytes | None) -> str | None:
    return given.decode() if given is not None and _REQUEST_ID.fullmatch(given) else None


def _request_id(given: bytes | None, *, needed: bool) -> str | None:
    return _valid_id(given) or (secrets.token_hex(8) if needed else None)


def _trace_id(traceparent: bytes | None) -> str | None:
    """With tracing off, the caller's trace from its traceparent, so the audit log and
    the caller's traces agree (OBS-5). With it on, None: the request's own trace is in
    its context, where the audit (`AuditEntry.by`) and the logs read it when they
    write, so a request that writes neither does not format it."""
    if tracing.enabled():
        return None
    found = _TRACEPARENT.fullmatch(traceparent) if traceparent else None
    return found[1].decode() if found else None


def _code(body: bytes) -> str:
    try:
        return str(orjson.loads(body)["error"]["code"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return "UNKNOWN"
