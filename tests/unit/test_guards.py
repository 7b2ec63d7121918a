"""The request guards in process (SEC-1): Host allow-list, content types, NUL, headers.

tests/api/test_abuse.py runs the same rules against a real `sigmawatch serve`.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import MutableMapping
from typing import Any

import orjson
import pytest

from sigmawatch_inference.guards import HostAllowList, RequestGuards, page_policy
from sigmawatch_inference.metrics import Metrics
from support.serving import run_async

DEFAULT = "localhost,127.0.0.1,[::1]"


@pytest.mark.parametrize(
    ("entries", "host", "allowed"),
    [
        (DEFAULT, b"localhost:8000", True),
        (DEFAULT, b"LocalHost.", True),
        (DEFAULT, b"127.0.0.1", True),
        (DEFAULT, b"[::1]:9", True),
        (DEFAULT, b"evil.example", False),
        (DEFAULT, b"localhost.evil.example:8000", False),
        (DEFAULT, b"127.0.0.1.nip.io", False),
        (DEFAULT, None, False),
        ("::1", b"[::1]:8000", True),
        ("api.example.com:443", b"api.example.com:8443", True),
        ("*.svc.example", b"inference.ns.svc.example", True),
        ("*.svc.example", b"svc.example", False),
        ("*.svc.example", b"evilsvc.example", False),
        ("*", b"anything.example", True),
        ("*", None, True),
    ],
)
def test_the_host_allow_list(entries: str, host: bytes | None, allowed: bool) -> None:
    hosts = HostAllowList(entries)
    assert hosts.allows(host) is allowed
    assert hosts.allows(host) is allowed  # the remembered verdict is the same


def test_a_page_policy_names_its_inline_scripts_by_the_hash_a_browser_computes() -> None:
    html = (
        '<script src="/static/a.js"></script><script>boot(1)</script>'
        '<script type="application/json" id="d">{"x": 1}</script>'
    )
    policy = page_policy(html).decode()
    digest = base64.b64encode(hashlib.sha256(b"boot(1)").digest()).decode()
    assert f"script-src 'self' 'sha256-{digest}';" in policy
    assert policy.count("sha256-") == 1  # neither the src script nor the data block
    assert "frame-ancestors 'none'" in policy
    assert "'unsafe-inline'" not in policy


def call(
    method: str, path: str, headers: dict[str, str], query: bytes = b""
) -> tuple[int, dict[str, str], bool]:
    """One request through the guards; (status, answer headers, whether the app ran)."""
    reached: list[bool] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(True)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    guards = RequestGuards(
        app, hosts=HostAllowList(DEFAULT), metrics=Metrics(), page_policies={"/plot": b"p"}
    )
    sent: list[MutableMapping[str, Any]] = []
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query,
        "headers": [(k.encode(), v.encode()) for k, v in {"host": "localhost", **headers}.items()],
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    run_async(guards(scope, receive, send))
    start = sent[0]
    answer = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], answer, bool(reached)


JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("method", "headers", "status"),
    [
        ("POST", JSON, 200),
        ("POST", {"content-type": "Application/JSON; charset=utf-8"}, 200),
        ("POST", {}, 415),  # bodiless: a form or fetch() sends no preflight either
        ("POST", {"content-type": "text/plain", "content-length": "2"}, 415),
        ("POST", {"content-type": "application/x-www-form-urlencoded"}, 415),
        ("POST", {"content-type": "multipart/form-data; boundary=x"}, 415),
        ("POST", {"content-type": "application/jsonp"}, 415),
        ("PUT", {"content-type": "text/plain", "content-length": "5"}, 415),
        ("PUT", {"transfer-encoding": "chunked"}, 415),
        ("DELETE", {}, 200),  # always preflighted cross-site: no body, nothing to type
        ("DELETE", {"content-length": "0"}, 200),
        ("GET", {}, 200),
    ],
)
def test_state_changing_requests_must_be_json(
    method: str, headers: dict[str, str], status: int
) -> None:
    got, _, reached = call(method, "/v1/series/s/train", headers)
    assert (got, reached) == (status, status == 200)


def test_refusals_and_answers_carry_the_security_headers() -> None:
    for method, path, host, query in (
        ("GET", "/v1/models", "localhost:8000", b""),
        ("GET", "/v1/models", "evil.example", b""),
        ("GET", "/v1/models", "localhost", b"detector=%00"),
        ("GET", "/plot", "localhost", b""),
    ):
        _, headers, _ = call(method, path, {"host": host}, query)
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        expected = "p" if path == "/plot" else "default-src 'none'; frame-ancestors 'none'"
        assert headers["content-security-policy"] == expected
    assert call("GET", "/v1/models", {"host": "evil.example"})[0] == 400
    assert call("GET", "/v1/models", {}, b"detector=%00")[0] == 422
    assert call("GET", "/v1/series/a\x00b/versions", {})[0] == 422


def test_probes_answer_whatever_host_they_are_addressed_to() -> None:
    for path in ("/liveness", "/readiness", "/healthcheck", "/metrics"):
        assert call("GET", path, {"host": "10.1.2.3:8000"})[2], path
    assert not call("GET", "/v1/models", {"host": "10.1.2.3:8000"})[2]


def test_a_refusal_is_the_error_envelope() -> None:
    sent: list[bytes] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("refused requests never reach the app")

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.body":
            sent.append(message["body"])

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"x", "more_body": False}

    guards = RequestGuards(app, hosts=HostAllowList(DEFAULT), metrics=Metrics(), page_policies={})
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/predict",
        "query_string": b"",
        "headers": [(b"host", b"localhost"), (b"content-type", b"text/plain")],
    }
    run_async(guards(scope, receive, send))
    error = orjson.loads(sent[0])["error"]
    assert error["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert error["details"] == {"content_type": "text/plain", "accepted": ["application/json"]}
