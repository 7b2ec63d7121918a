"""Request bodies: large ones are parsed off the event loop, small ones on it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from starlette.requests import Request

from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch_inference import parsing
from sigmawatch_inference.points import PointsRequest
from support.serving import run_async


def request_with(body: bytes) -> Request:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request({"type": "http", "method": "POST", "headers": []}, receive)


def batch_body(points: int) -> bytes:
    item = {"series_id": "s", "timestamps": list(range(1, points + 1)), "values": [1.0] * points}
    return orjson.dumps({"items": [item]})


def thread_of(monkeypatch: pytest.MonkeyPatch, name: str) -> list[threading.Thread]:
    """Record the thread a parsing function runs in."""
    seen: list[threading.Thread] = []
    original: Callable[..., Any] = getattr(parsing, name)

    def spy(*args: Any) -> Any:
        seen.append(threading.current_thread())
        return original(*args)

    monkeypatch.setattr(parsing, name, spy)
    return seen


@pytest.mark.parametrize(
    ("reader", "parser"), [("read_batch", "parse_batch"), ("read_json_object", "parse_json_object")]
)
def test_large_bodies_are_parsed_in_a_worker_thread(
    monkeypatch: pytest.MonkeyPatch, reader: str, parser: str
) -> None:
    seen = thread_of(monkeypatch, parser)
    read = getattr(parsing, reader)
    large, small = batch_body(120_000), batch_body(3)
    assert len(large) > parsing.OFF_LOOP_BYTES > len(small)

    async def both() -> threading.Thread:
        await read(request_with(large))
        await read(request_with(small))
        return threading.current_thread()

    loop_thread = run_async(both())
    assert [t is loop_thread for t in seen] == [False, True]


def test_a_batch_keeps_bad_items_as_their_errors() -> None:
    body = orjson.dumps(
        {
            "items": [
                {"series_id": "ok", "timestamps": [1, 2], "values": [1.0, 2.0]},
                {"series_id": "bad-id", "timestamps": [1], "values": [1.0]},
                {"series_id": "short", "timestamps": [1, 2], "values": [1.0]},
                "not an object",
                {"series_id": "v", "version": "v2", "timestamps": [5], "values": [0.5]},
            ]
        }
    )
    parsed = parsing.parse_batch(body)
    assert isinstance(parsed[0], PointsRequest)
    codes = [p.code for p in parsed if isinstance(p, SigmawatchError)]
    assert codes == [
        ErrorCode.INVALID_SERIES_ID,
        ErrorCode.INVALID_REQUEST,
        ErrorCode.INVALID_REQUEST,
    ]
    last = parsed[4]
    assert isinstance(last, PointsRequest)
    assert last.version == 2


def test_a_body_that_is_not_a_batch_fails_the_request() -> None:
    for body, code in (
        (b"{nope", ErrorCode.INVALID_JSON),
        (b"[]", ErrorCode.INVALID_REQUEST),
        (b'{"items": 3}', ErrorCode.INVALID_REQUEST),
        (b"{}", ErrorCode.INVALID_REQUEST),
    ):
        with pytest.raises(SigmawatchError) as caught:
            parsing.parse_batch(body)
        assert caught.value.code is code
