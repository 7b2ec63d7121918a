"""Half-sent requests are closed, slow honest ones served, over real sockets (SEC-1).

Against real `sigmawatch serve` processes with 1-second head and body
timeouts (SIGMAWATCH_HEADER_TIMEOUT_S, SIGMAWATCH_BODY_TIMEOUT_S), one
worker each (more are refused: docs/decisions/0018). Every socket read is
bounded: a connection the server never closes fails the test instead of
hanging it.
"""

from __future__ import annotations

import time

import orjson
import pytest

from support import rawhttp
from support.data import series_data, train_body
from support.service import Service, ServiceFactory

TS = int(series_data()[0][-1])
TIMEOUTS = {"SIGMAWATCH_HEADER_TIMEOUT_S": "1", "SIGMAWATCH_BODY_TIMEOUT_S": "1"}
# The server must close within its timeout plus this (a loaded test machine).
SLACK_S = 4.0


@pytest.fixture(scope="module")
def strict(make_service: ServiceFactory) -> Service:
    service: Service = make_service("abuse-timeouts", env=TIMEOUTS)
    with service.client() as client:
        assert client.post("/v1/series/slow/train", json=train_body()).status_code == 201
    return service


def half_sent(port: int) -> dict[str, bytes]:
    body = orjson.dumps({"timestamp": TS, "value": 1.0})
    head = rawhttp.request_head(
        "POST",
        "/v1/series/slow/predict",
        port,
        content_type="application/json",
        content_length=str(len(body)),
    )
    return {
        "half a request line": b"POST /v1/series/slow/pre",
        "half the headers": head[: len(head) // 2],
        "the head, half the body": head + body[: len(body) // 2],
    }


def test_half_sent_requests_are_closed_after_the_timeout(strict: Service) -> None:
    """SEC-1: 30 connections that stop mid-request are all answered 408 and closed."""
    cases = half_sent(strict.port)
    sockets = [
        (name, rawhttp.connect(strict.port, sent))
        for _ in range(10)
        for name, sent in cases.items()
    ]
    silent = [rawhttp.connect(strict.port) for _ in range(5)]
    for name, sock in sockets:
        answer = rawhttp.until_closed(sock, timeout=SLACK_S)
        assert answer.status == 408, name
        assert answer.error_code() == "REQUEST_TIMEOUT", name
        assert answer.headers["connection"] == "close"
        assert answer.headers["x-content-type-options"] == "nosniff"
    for sock in silent:  # never sent a byte: closed without an answer
        assert rawhttp.until_closed(sock, timeout=SLACK_S).status is None
    with strict.client() as client:
        assert client.get("/liveness").status_code == 200


def test_a_trickled_head_is_closed_however_steady(strict: Service) -> None:
    """The head's deadline is absolute: a byte every 0.2 s does not keep it open."""
    head = rawhttp.request_head("GET", "/liveness", strict.port, x_padding="p" * 200)
    sock = rawhttp.connect(strict.port)
    started = time.monotonic()
    try:
        for byte in head[:-4]:  # never the blank line that ends the head
            sock.sendall(bytes([byte]))
            time.sleep(0.2)
            if time.monotonic() - started > SLACK_S:
                break
    except (BrokenPipeError, ConnectionResetError):
        pass
    answer = rawhttp.until_closed(sock, timeout=SLACK_S)
    assert answer.status == 408
    assert time.monotonic() - started < 1 + SLACK_S


def test_a_slow_but_steady_body_is_served(strict: Service) -> None:
    """Pauses shorter than the body timeout, for three times as long in all: an answer, not 408."""
    body = orjson.dumps({"timestamp": TS, "value": 1.0})
    head = rawhttp.request_head(
        "POST",
        "/v1/series/slow/predict",
        strict.port,
        content_type="application/json",
        content_length=str(len(body)),
        connection="close",
    )
    sock = rawhttp.connect(strict.port, head)
    started = time.monotonic()
    step = len(body) // 6 + 1
    for at in range(0, len(body), step):
        time.sleep(0.5)
        sock.sendall(body[at : at + step])
    answer = rawhttp.until_closed(sock, timeout=10)
    assert time.monotonic() - started > 2.5
    assert answer.status == 200, answer.body
    assert orjson.loads(answer.body)["version"] == "v1"


def test_bytes_that_are_not_http_are_answered_in_the_envelope(strict: Service) -> None:
    """Protocol errors answer {"error": ...} too, not uvicorn's plain text."""
    for garbage in (b"HELLO\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"):
        answer = rawhttp.until_closed(rawhttp.connect(strict.port, garbage), timeout=SLACK_S)
        assert answer.status == 400, garbage
        assert answer.headers["content-type"] == "application/json"
        assert answer.error_code() == "MALFORMED_REQUEST"
        assert "server" not in answer.headers


def test_an_idle_keep_alive_connection_outlives_the_clients_pools(strict: Service) -> None:
    """A connection idle past httpx's 5 s pool expiry still answers: the client, not the
    server, closes first, so no request is sent on a connection being closed."""
    with rawhttp.connect(strict.port) as sock:
        for pause_s in (6, 0):
            sock.sendall(rawhttp.request_head("GET", "/liveness", strict.port))
            assert rawhttp.one_answer(sock, timeout=10).status == 200
            time.sleep(pause_s)
