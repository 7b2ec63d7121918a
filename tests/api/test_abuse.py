"""What a web page or a client could abuse, tried on real `sigmawatch serve` processes (SEC-1).

A cross-site POST (text/plain, a form, no type at all), a foreign Host
(DNS rebinding), a CORS preflight, framing, NUL and out-of-range parameters,
an oversized batch, and a large batch beside ordinary traffic. Half-sent
requests and protocol errors: test_abuse_timeouts.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from support.data import series_data, train_body
from support.service import Service, ServiceFactory

TS = int(series_data()[0][-1])
BROWSER_TYPES = ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; b=x")


@pytest.fixture(scope="module")
def raw(service: Service) -> Iterator[httpx.Client]:
    """A client that declares nothing it is not told to: what a browser's simple request is."""
    with httpx.Client(base_url=service.url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def shown(service: Service) -> str:
    """A trained series, for the pages."""
    with service.client() as client:
        assert client.post("/v1/series/shown/train", json=train_body()).status_code == 201
    return "shown"


def error(response: httpx.Response) -> Any:
    return response.json()["error"]["code"]


def test_a_cross_site_post_can_neither_train_nor_change_anything(raw: httpx.Client) -> None:
    """SEC-1: the simple requests a page can send without a preflight are refused."""
    body = orjson.dumps(train_body())
    for content_type in (*BROWSER_TYPES, None):
        headers = {"content-type": content_type} if content_type else {}
        refused = raw.post("/v1/series/xsite/train", content=body, headers=headers)
        assert refused.status_code == 415, content_type
        assert error(refused) == "UNSUPPORTED_MEDIA_TYPE"
    assert error(raw.get("/v1/series/xsite/versions")) == "MODEL_NOT_FOUND"  # nothing trained
    for path in ("/v1/series/xsite/rollback", "/v1/series/xsite/rollout/abort"):
        assert raw.post(path, content=b'{"version": "v1"}').status_code == 415, path
        assert raw.post(path).status_code == 415, path  # bodiless: a form can send it too
    declared = {"content-type": "application/json; charset=utf-8"}
    trained = raw.post("/v1/series/xsite/train", content=body, headers=declared)
    assert trained.status_code == 201, trained.text
    # A bodiless POST that declares JSON reaches its route.
    assert error(raw.post("/v1/series/xsite/rollout/abort", headers=declared)) == (
        "ROLLOUT_NOT_ACTIVE"
    )


def test_405_keeps_its_allow_header(raw: httpx.Client) -> None:
    for response in (raw.get("/v1/predict"), raw.delete("/v1/predict")):
        assert response.status_code == 405
        assert response.headers["allow"] == "POST"
        assert error(response) == "METHOD_NOT_ALLOWED"
    # A path with a GET and a POST route names both.
    assert raw.delete("/v1/rollouts").headers["allow"] == "GET, POST"


def test_a_foreign_host_is_refused_and_probes_answer_any(service: Service) -> None:
    """SEC-1 (DNS rebinding): only loopback names by default; the kubelet's pod IP for probes."""
    with service.client() as client:
        for path in ("/v1/models", "/docs", "/plot?series_id=xsite", "/openapi.json"):
            refused = client.get(path, headers={"host": "rebound.attacker.example"})
            assert refused.status_code == 400, path
            assert error(refused) == "HOST_NOT_ALLOWED"
        posted = client.post(
            "/v1/series/xsite/predict",
            json={"timestamp": TS, "value": 1.0},
            headers={"host": "rebound.attacker.example:8000"},
        )
        assert error(posted) == "HOST_NOT_ALLOWED"
        for host in (f"localhost:{service.port}", f"[::1]:{service.port}", "127.0.0.1"):
            assert client.get("/v1/models", headers={"host": host}).status_code == 200, host
        for probe in ("/liveness", "/readiness", "/healthcheck", "/metrics"):
            answer = client.get(probe, headers={"host": "10.244.1.17:8000"})
            assert answer.status_code == 200, probe


def test_hosts_and_cors_origins_as_configured(
    service: Service, make_service: ServiceFactory
) -> None:
    """SEC-1: CORS is closed by default and opens to the configured origins only."""
    preflight = {
        "origin": "https://app.example.com",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
    }
    with service.client() as client:
        closed = client.options("/v1/predict", headers=preflight)
        assert "access-control-allow-origin" not in closed.headers
    env = {
        "SIGMAWATCH_ALLOWED_HOSTS": "api.example.com,*.svc.example",
        "SIGMAWATCH_CORS_ORIGINS": "https://app.example.com",
    }
    configured = make_service("abuse-configured", env=env)
    with configured.client() as client:
        assert error(client.get("/v1/models")) == "HOST_NOT_ALLOWED"  # 127.0.0.1 is not listed
        for host in ("api.example.com", "inference.prod.svc.example:80"):
            assert client.get("/v1/models", headers={"host": host}).status_code == 200, host
        api = {"host": "api.example.com"}
        opened = client.options("/v1/predict", headers={**preflight, **api})
        assert opened.status_code == 200
        assert opened.headers["access-control-allow-origin"] == "https://app.example.com"
        assert opened.headers["x-frame-options"] == "DENY"  # preflights carry them too
        other = client.options(
            "/v1/predict", headers={**preflight, **api, "origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in other.headers
        read = client.get("/v1/models", headers={**api, "origin": "https://app.example.com"})
        assert read.headers["access-control-allow-origin"] == "https://app.example.com"


def test_every_answer_carries_the_security_headers_and_no_banner(
    raw: httpx.Client, shown: str
) -> None:
    """SEC-1: no sniffing, no framing, no referrer, a CSP; pages get their own strict one."""
    answers = {
        "json": raw.get("/v1/models"),
        "404": raw.get("/v2/nothing"),
        "415": raw.post("/v1/predict", content=b"{}"),
        "host": raw.get("/v1/models", headers={"host": "evil.example"}),
        "script": raw.get("/static/plot.js"),
        "metrics": raw.get("/metrics"),
        "docs": raw.get("/docs"),
        "plot": raw.get("/plot", params={"series_id": shown}),
    }
    for name, answer in answers.items():
        assert answer.headers["x-content-type-options"] == "nosniff", name
        assert answer.headers["x-frame-options"] == "DENY", name
        assert answer.headers["referrer-policy"] == "no-referrer", name
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"], name
        assert "server" not in answer.headers, name
    for page in ("docs", "plot"):
        policy = answers[page].headers["content-security-policy"]
        assert answers[page].status_code == 200, page
        assert "script-src 'self'" in policy
        assert "unsafe" not in policy
    assert "'sha256-" in answers["docs"].headers["content-security-policy"]
    assert answers["json"].headers["content-security-policy"].startswith("default-src 'none'")


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("GET", "/v1/models?detector=%00", None, 422, "INVALID_REQUEST"),
        ("GET", "/v1/models?status=active&cursor=%00", None, 422, "INVALID_REQUEST"),
        ("GET", "/v1/series/a%00b/versions", None, 422, "INVALID_REQUEST"),
        ("GET", "/v1/rollouts/r99999999999999999999", None, 404, "ROLLOUT_NOT_FOUND"),
        ("GET", "/v1/rollouts/r%C2%B2", None, 404, "ROLLOUT_NOT_FOUND"),
        ("POST", "/v1/rollouts/r99999999999999999999/pause", {}, 404, "ROLLOUT_NOT_FOUND"),
        (
            "GET",
            "/v1/series/xsite/versions/v1/stats?until=0001-01-01T00:00:00",
            None,
            422,
            "INVALID_REQUEST",
        ),
        (
            "GET",
            "/v1/series/xsite/versions/v1/stats?window=99999999999999d",
            None,
            422,
            "INVALID_REQUEST",
        ),
        (
            "POST",
            "/v1/rollouts",
            {"series": {"prefix": "p"}, "candidate": {"trainingRun": "r\0"}, "strategy": "shadow"},
            422,
            "INVALID_REQUEST",
        ),
        ("POST", "/v1/series/xsite/rollback", {"version": "v1\0"}, 422, "INVALID_REQUEST"),
    ],
)
def test_nul_and_unrepresentable_parameters_are_client_errors(
    service: Service, method: str, path: str, body: Any, status: int, code: str
) -> None:
    """SEC-1: refused before any query; no 500, nothing in the log as an error."""
    log = service.process.log_path
    before = log.read_text().count('"level":"error"')
    with service.client() as client:
        response = client.request(method, path, json=body)
    assert (response.status_code, error(response)) == (status, code), response.text
    assert log.read_text().count('"level":"error"') == before


def items(prefix: str, n: int, *, same: bool = False) -> bytes:
    return orjson.dumps(
        {
            "items": [
                {
                    "series_id": prefix if same else f"{prefix}{i}",
                    "timestamps": [TS],
                    "values": [1.0],
                }
                for i in range(n)
            ]
        }
    )


def test_a_batch_over_the_item_limit_is_refused_at_once(service: Service) -> None:
    """SEC-1: 100,000 items (8 MB) answer 413, naming SIGMAWATCH_BATCH_MAX_ITEMS, at once."""
    with service.client() as client:
        started = time.monotonic()
        refused = client.post("/v1/predict", content=items("unknown_", 100_000))
        elapsed = time.monotonic() - started
    assert refused.status_code == 413
    assert refused.json()["error"]["details"] == {"max_items": 10_000, "items": 100_000}
    assert "SIGMAWATCH_BATCH_MAX_ITEMS" in refused.json()["error"]["message"]
    assert elapsed < 2.0


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmRSS:", 1)[1].split()[0]) / 1024


class Beside(threading.Thread):
    """A cached single predict, back to back, while something else runs."""

    def __init__(self, service: Service) -> None:
        super().__init__(daemon=True)
        self.service, self.stop = service, threading.Event()
        self.seconds: list[float] = []
        self.failed: list[str] = []

    def run(self) -> None:
        with self.service.client() as client:
            while not self.stop.is_set():
                started = time.perf_counter()
                answer = client.post("/v1/series/hot/predict", json={"timestamp": TS, "value": 2})
                self.seconds.append(time.perf_counter() - started)
                if answer.status_code != 200:
                    self.failed.append(answer.text)
                time.sleep(0.002)

    def p99_ms(self) -> float:
        ordered = sorted(self.seconds)
        return ordered[int(0.99 * (len(ordered) - 1))] * 1000


def test_large_batches_leave_the_service_responsive(service: Service) -> None:
    """SEC-1: 10,000 items of unknown series, then of one cached series, twice each, then
    100,000 of unknown series: every one answered within bounds, a concurrent predict's
    P99 under 50 ms, memory given back."""
    with service.client(timeout=120) as client:
        assert client.post("/v1/series/hot/train", json=train_body()).status_code in (200, 201)
        client.post("/v1/series/hot/predict", json={"timestamp": TS, "value": 2})
        assert service.process.proc is not None
        pid = service.process.proc.pid
        rss_before = rss_mb(pid)
        beside = Beside(service)
        beside.start()
        try:
            for round_ in range(2):
                for name, body, limit_s in (
                    ("unknown", items(f"nobody_{round_}_", 10_000), 60.0),
                    ("cached", items("hot", 10_000, same=True), 10.0),
                ):
                    started = time.monotonic()
                    answer = client.post("/v1/predict", content=body)
                    assert answer.status_code == 200, name
                    assert time.monotonic() - started < limit_s, name
                    results = answer.json()["results"]
                    expected = "MODEL_NOT_FOUND" if name == "unknown" else None
                    assert {r.get("error", {}).get("code") for r in results} == {expected}
            # 100,000 items of unknown series: refused before parsing, beside the same traffic.
            started = time.monotonic()
            answer = client.post("/v1/predict", content=items("nobody_big_", 100_000))
            assert answer.status_code == 413
            assert time.monotonic() - started < 2.0
        finally:
            beside.stop.set()
            beside.join(30)
        grown_mb = rss_mb(pid) - rss_before
    assert not beside.failed
    assert len(beside.seconds) >= 100
    assert beside.p99_ms() < 50.0, f"P99 {beside.p99_ms():.0f} ms over {len(beside.seconds)}"
    # Scored on the event loop, each 10,000-item batch held every other request for ~0.5 s:
    # a stall per batch. One slow predict is allowed for a loaded test machine.
    stalled = [round(s, 2) for s in beside.seconds if s > 0.25]
    assert len(stalled) <= 1, f"predicts that waited over 0.25 s: {stalled}"
    # 20,000 unknown series leave their cached "no model" answers (~40 MB at most) behind.
    assert grown_mb < 100, f"RSS grew {grown_mb:.0f} MB"
