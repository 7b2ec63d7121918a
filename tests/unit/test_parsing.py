"""Request bodies: large ones are parsed off the event loop, small ones on it."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.requests import Request

from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch_inference import parsing
from sigmawatch_inference.points import ColumnsRequest, PointsRequest
from support.serving import run_async


def items_of(body: bytes, max_items: int | None = None) -> list[PointsRequest | SigmawatchError]:
    parsed = parsing.parse_batch(body, max_items=max_items)
    assert isinstance(parsed, list), "the items form"
    return parsed


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
    parsed = items_of(body)
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


def test_a_batch_over_the_item_limit_is_refused_before_its_items_are_parsed() -> None:
    """SEC-1: SIGMAWATCH_BATCH_MAX_ITEMS, named in the error with the count."""
    item = {"series_id": "s", "timestamps": [1], "values": [1.0]}
    body = orjson.dumps({"items": [item] * 11})
    assert len(items_of(body, max_items=11)) == 11
    for unnamed in (False, True):
        # Items without their series_id escape the cheap count; the exact one catches them.
        items = [{"timestamps": [1]} if unnamed else item] * 12
        with pytest.raises(SigmawatchError) as caught:
            parsing.parse_batch(orjson.dumps({"items": items}), max_items=11)
        assert caught.value.code is ErrorCode.TOO_MANY_ITEMS
        assert caught.value.details == {"max_items": 11, "items": 12}


def test_nul_in_any_json_string_is_refused() -> None:
    """SEC-1: PostgreSQL refuses NUL in text; it is refused here, whichever field holds it."""
    for body in (
        b'{"series": {"prefix": "a\\u0000"}}',
        b'{"candidate": {"trainingRun": "run\\u0000"}}',
        b'{"analysis": {"k\\u0000": 1}}',
        b'{"items": [[["\\u0000"]]]}',
    ):
        with pytest.raises(SigmawatchError) as caught:
            parsing.parse_json_object(body)
        assert caught.value.code is ErrorCode.INVALID_REQUEST, body
    # A backslash followed by "u0000" is six ordinary characters.
    assert parsing.parse_json_object(b'{"note": "\\\\u0000"}') == {"note": "\\u0000"}


def test_bad_items_keep_no_traceback() -> None:
    """Their frames would refer back to them: one cycle per bad item for the collector."""
    body = orjson.dumps({"items": [{"series_id": "bad-id"}] * 3})
    assert all(e.__traceback__ is None for e in items_of(body))  # type: ignore[union-attr]


JSON_SCALARS = st.one_of(
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.text(alphabet="a1 ", max_size=3),
    st.lists(st.integers(0, 3), max_size=2),
)


def outcome(parsed: PointsRequest | SigmawatchError) -> object:
    if isinstance(parsed, SigmawatchError):
        return parsed.to_dict()
    return (parsed.timestamps.dtype, parsed.timestamps.tobytes(), parsed.values.tobytes())


@settings(max_examples=300, deadline=None)
@given(
    timestamps=st.lists(st.one_of(st.integers(1, 2**40), JSON_SCALARS), min_size=1, max_size=6),
    values=st.lists(st.one_of(st.floats(-1e6, 1e6), JSON_SCALARS), min_size=1, max_size=6),
)
def test_packing_without_a_type_scan_answers_as_the_scan_does(
    timestamps: list[Any], values: list[Any]
) -> None:
    """A body with no `true`/`false` in its text packs its lists directly; the answer,
    an error included (its code, message and index), is the type scan's."""
    n = min(len(timestamps), len(values))
    item = {"series_id": "s", "timestamps": timestamps[:n], "values": values[:n]}
    body = json.dumps({"items": [item]}).encode()  # orjson refuses ints past 64 bits
    (fast,) = items_of(body)
    document = orjson.loads(body)["items"][0]
    try:
        scanned: PointsRequest | SigmawatchError = parsing.parse_item(document, booleans=True)
    except SigmawatchError as exc:
        scanned = exc
    assert outcome(fast) == outcome(scanned)
    columns = {"series_ids": ["s"] * n, "timestamps": timestamps[:n], "values": values[:n]}
    try:
        packed: object = parsing.parse_batch(text := json.dumps(columns).encode())
    except SigmawatchError as exc:
        packed = exc
    try:
        walked: object = parsing.parse_columns(orjson.loads(text), None, None)
    except SigmawatchError as exc:
        walked = exc
    if isinstance(packed, SigmawatchError) or isinstance(walked, SigmawatchError):
        assert isinstance(packed, SigmawatchError)
        assert isinstance(walked, SigmawatchError)
        assert packed.to_dict() == walked.to_dict()
    else:
        assert isinstance(packed, ColumnsRequest)
        assert isinstance(walked, ColumnsRequest)
        assert packed.timestamps.tobytes() == walked.timestamps.tobytes()
        assert packed.values.tobytes() == walked.values.tobytes()
