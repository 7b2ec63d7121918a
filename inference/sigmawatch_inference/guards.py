"""Which requests reach the app at all, and the headers every answer carries (SEC-1).

One pure ASGI layer (like middleware.py: the single-point predict pays a
header scan and two dict lookups, no more):

- **Host allow-list** against DNS rebinding: a page on a name the attacker
  controls, re-pointed at this service, sends that name as `Host`. Probes
  and `/metrics` are exempt: the kubelet and Prometheus address pods by IP.
- **JSON only on state-changing requests**, so no web page can send one
  without a CORS preflight (closed unless `SIGMAWATCH_CORS_ORIGINS` opens
  it). A browser sends a cross-site POST as a "simple" request when its
  type is text/plain, a form encoding or absent, even with an empty body;
  so every POST must declare `application/json`, bodiless ones included.
  PUT, PATCH and DELETE are always preflighted cross-site, so they must
  declare JSON only when they carry a body.
- **No NUL** in the path or the query string: PostgreSQL refuses it in text,
  and no parameter of this API can contain it (JSON bodies: parsing.py).
- **Security headers** on every answer, including the refusals above and
  those of the layers inside: no sniffing, no framing, no referrer, and a
  Content-Security-Policy (`default-src 'none'`, or a page's own policy).
"""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.settings import comma_list
from sigmawatch_inference.metrics import Metrics
from sigmawatch_inference.responses import error_response

# Probes and metrics: the kubelet and Prometheus call them with a pod IP as Host, and
# they answer in their own shapes (openapi_contract.py).
PROBE_PATHS = frozenset({"/liveness", "/readiness", "/healthcheck", "/metrics"})
_BODY_METHODS = frozenset({"PUT", "PATCH", "DELETE"})
_JSON = b"application/json"
_MAX_REMEMBERED_HOSTS = 1024
# What a browser on an allowed origin may send beyond the CORS-safelisted headers.
CORS_HEADERS = (
    "content-type",
    "authorization",
    "x-api-key",
    "x-sigmawatch-route-key",
    "x-sigmawatch-series",  # affinity behind Istio (docs/api.md)
)

COMMON_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
# Answers that are no page (JSON, scripts, styles) run nothing and embed nothing.
NO_CONTENT_POLICY = b"default-src 'none'; frame-ancestors 'none'"
# Pages load only this service's own scripts, styles and images; they cannot be framed.
_PAGE_POLICY = (
    "default-src 'none'; script-src 'self'{scripts}; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
_INLINE_SCRIPT = re.compile(r"<script(?P<attrs>[^>]*)>(?P<code>.*?)</script>", re.DOTALL)
_DATA_SCRIPT = re.compile(r"\b(src|type)\s*=")


def page_policy(html: str) -> bytes:
    """The CSP for a page: its own inline scripts by hash, everything else from 'self'.

    Data blocks (`<script type="application/json">`) and scripts with a
    `src` are not hashed: the first never run, the second come from 'self'.
    """
    hashes = "".join(
        " 'sha256-{}'".format(
            base64.b64encode(hashlib.sha256(m["code"].encode()).digest()).decode()
        )
        for m in _INLINE_SCRIPT.finditer(html)
        if not _DATA_SCRIPT.search(m["attrs"])
    )
    return _PAGE_POLICY.format(scripts=hashes).encode()


def host_name(value: str) -> str:
    """`Host` without its port, lower-case, without a final dot; IPv6 keeps its brackets."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[: value.find("]") + 1]
    if value.count(":") > 1:  # a bare IPv6 address (only in settings)
        return f"[{value}]"
    return value.partition(":")[0].rstrip(".")


# What every answer that is no page carries (the protocol's own answers too).
SECURITY_HEADERS = (*COMMON_HEADERS, (b"content-security-policy", NO_CONTENT_POLICY))


class HostAllowList:
    """`SIGMAWATCH_ALLOWED_HOSTS`: names (any port), `*.suffix` for subdomains, `*` for any."""

    def __init__(self, entries: str) -> None:
        names = comma_list(entries)
        self.any = "*" in names
        self.names = frozenset(host_name(n) for n in names if not n.startswith("*"))
        self.suffixes = tuple(n[1:].lower() for n in names if n.startswith("*."))
        self._seen: dict[bytes, bool] = {}  # raw Host header → verdict

    def allows(self, header: bytes | None) -> bool:
        if self.any:
            return True
        if header is None:
            return False
        verdict = self._seen.get(header)
        if verdict is None:
            name = host_name(header.decode("latin-1"))
            verdict = name in self.names or (bool(self.suffixes) and name.endswith(self.suffixes))
            if len(self._seen) >= _MAX_REMEMBERED_HOSTS:  # sprayed names cannot grow it
                self._seen.clear()
            self._seen[header] = verdict
        return verdict


class RequestGuards:
    def __init__(
        self,
        app: ASGIApp,
        *,
        hosts: HostAllowList,
        metrics: Metrics,
        page_policies: dict[str, bytes],
    ) -> None:
        self.app = app
        self.hosts = hosts
        self.metrics = metrics
        # Built once: per request the headers are one dict lookup (pages: /plot, /docs).
        self._headers = SECURITY_HEADERS
        self._page_headers = {path: _with_policy(p) for path, p in page_policies.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = self._page_headers.get(scope["path"], self._headers)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *headers]
            await send(message)

        refusal = self._refusal(scope)
        if refusal is None:
            await self.app(scope, receive, send_with_headers)
            return
        self.metrics.errors.labels("unmatched", refusal.code.value).inc()
        await error_response(refusal)(scope, receive, send_with_headers)

    def _refusal(self, scope: Scope) -> SigmawatchError | None:
        host = content_type = None
        has_body = False
        for name, value in scope["headers"]:
            if name == b"host":
                host = value
            elif name == b"content-type":
                content_type = value
            elif name == b"content-length":
                has_body = value.strip() not in (b"0", b"")
            elif name == b"transfer-encoding":
                has_body = True
        if not self.hosts.allows(host) and scope["path"] not in PROBE_PATHS:
            shown = (host or b"").decode("latin-1")[:100]
            return SigmawatchError(
                ErrorCode.HOST_NOT_ALLOWED,
                f"this service does not answer to the host {shown!r}",
                host=shown,
                hint="add it to SIGMAWATCH_ALLOWED_HOSTS",
            )
        if b"%00" in scope["query_string"] or "\x00" in scope["path"]:
            return SigmawatchError(
                ErrorCode.INVALID_REQUEST, "the path and query parameters may not contain NUL"
            )
        method = scope["method"]
        if (method == "POST" or (has_body and method in _BODY_METHODS)) and not _is_json(
            content_type
        ):
            shown = (content_type or b"").decode("latin-1")[:100] or None
            return SigmawatchError(
                ErrorCode.UNSUPPORTED_MEDIA_TYPE,
                f"{method} requests must be sent as Content-Type: application/json",
                content_type=shown,
                accepted=["application/json"],
            )
        return None


def _with_policy(policy: bytes) -> tuple[tuple[bytes, bytes], ...]:
    return (*COMMON_HEADERS, (b"content-security-policy", policy))


def _is_json(content_type: bytes | None) -> bool:
    return content_type is not None and content_type.partition(b";")[0].strip().lower() == _JSON
