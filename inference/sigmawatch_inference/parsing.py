"""Request bodies in: raw bytes parsed by orjson straight into typed values.

Bodies are read raw rather than through pydantic models, several times
faster for large batches (docs/performance.md and docs/decisions/0004);
the pydantic models in `schemas.py` still document every body in OpenAPI.
A body larger than `OFF_LOOP_BYTES` is parsed in a worker thread, so a
10 MB training or batch body never stalls the event loop that answers
everyone else. Smaller ones stay on the loop: a megabyte parses in a few
milliseconds, and parsing in a thread still holds the GIL, so moving every
batch there only adds switches (docs/performance.md, the 2026-12-02 re-run).
A batch body is the exception: turning its items into arrays costs ~7 µs
an item, so one above `BATCH_OFF_LOOP_BYTES` (~1,000 items) goes to a
thread too, and one with more than `SIGMAWATCH_BATCH_MAX_ITEMS` items is
refused before any item is parsed (SEC-1).

JSON strings may not contain NUL (`\\u0000`): PostgreSQL refuses it in
text, and no field of this API can hold it, so it is refused here, before
any query, whichever field carries it.
"""

from __future__ import annotations

from typing import Any

import orjson
from anyio import to_thread
from fastapi import Request

from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.validation import parse_version, to_timestamps, to_values, validate_series_id
from sigmawatch_inference.points import ColumnsRequest, PointsRequest

OFF_LOOP_BYTES = 1024 * 1024
BATCH_OFF_LOOP_BYTES = 64 * 1024


def parse_json_object(body: bytes) -> dict[str, Any]:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise SigmawatchError(
            ErrorCode.INVALID_JSON,
            "request body is not valid JSON (NaN and Infinity are not JSON)",
            position=exc.pos,
            reason=exc.msg,
        ) from None
    if not isinstance(document, dict):
        raise SigmawatchError(ErrorCode.INVALID_REQUEST, "request body must be a JSON object")
    # The byte scan is all most bodies pay; only a hit walks the document
    # (the escape may also be a literal backslash followed by "u0000").
    if b"\\u0000" in body and _holds_nul(document):
        raise SigmawatchError(
            ErrorCode.INVALID_REQUEST, "JSON strings may not contain NUL (\\u0000)"
        )
    return document


def _holds_nul(document: Any) -> bool:
    pending = [document]
    while pending:
        node = pending.pop()
        if isinstance(node, str):
            if "\x00" in node:
                return True
        elif isinstance(node, dict):
            pending.extend(node)
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return False


async def read_json_object(request: Request) -> dict[str, Any]:
    body = await request.body()
    if len(body) > OFF_LOOP_BYTES:
        return await to_thread.run_sync(parse_json_object, body)
    return parse_json_object(body)


def only_fields(
    body: dict[str, Any], allowed: frozenset[str], code: ErrorCode = ErrorCode.INVALID_REQUEST
) -> None:
    """`code` naming the first field of `body` outside `allowed` (bodies that refuse extras)."""
    extra = sorted(set(body) - allowed)
    if extra:
        raise SigmawatchError(
            code, f"the body has no field {extra[0]!r}", field=extra[0], allowed=sorted(allowed)
        )


def require_field(document: dict[str, Any], name: str, *, where: str = "body") -> Any:
    if name not in document:
        raise SigmawatchError(
            ErrorCode.INVALID_REQUEST, f"{where} is missing the field {name!r}", field=name
        )
    return document[name]


def parse_version_param(version: str | None) -> int | None:
    """A `?version=v3` query parameter; None (production) when absent."""
    return parse_version(version) if version is not None else None


ROUTE_KEY_HEADER = "x-sigmawatch-route-key"
MAX_ROUTE_KEY = 256


def route_key(request: Request) -> str | None:
    """A sticky client's canary routing key (`X-Sigmawatch-Route-Key`), if it sent one."""
    key = request.headers.get(ROUTE_KEY_HEADER)
    if key is not None and not 0 < len(key) <= MAX_ROUTE_KEY:
        raise SigmawatchError(
            ErrorCode.INVALID_REQUEST,
            f"X-Sigmawatch-Route-Key must be 1 to {MAX_ROUTE_KEY} characters",
        )
    return key


def parse_point(
    series_id: str, version: int | None, body: dict[str, Any], key: str | None = None
) -> PointsRequest:
    """The single-point predict: validated path and query parameters, a {timestamp, value} body."""
    return PointsRequest(
        series_id,
        version,
        to_timestamps([require_field(body, "timestamp")]),
        to_values([require_field(body, "value")]),
        key,
    )


def parse_item(item: Any, key: str | None = None, *, booleans: bool = True) -> PointsRequest:
    """One batch item; `booleans` False: its body holds no JSON `true` or `false`."""
    if not isinstance(item, dict):
        raise SigmawatchError(ErrorCode.INVALID_REQUEST, "each item must be an object")
    series_id = validate_series_id(require_field(item, "series_id", where="item"))
    version = item.get("version")
    timestamps = to_timestamps(require_field(item, "timestamps", where="item"), booleans=booleans)
    values = to_values(require_field(item, "values", where="item"), booleans=booleans)
    if timestamps.size != values.size or values.size == 0:
        raise SigmawatchError(
            ErrorCode.INVALID_REQUEST,
            "timestamps and values must be non-empty and of the same length",
            timestamps=int(timestamps.size),
            values=int(values.size),
        )
    return PointsRequest(series_id, parse_version_param(version), timestamps, values, key)


type Batch = list[PointsRequest | SigmawatchError] | ColumnsRequest

COLUMNS = frozenset({"series_ids", "timestamps", "values"})


def parse_batch(body: bytes, key: str | None = None, max_items: int | None = None) -> Batch:
    """The batch body: its items, where a bad item is that item's error, never the
    request's; or, without `items`, its columns (wrongly typed columns fail the request).

    More than `max_items` items or rows (None: no bound) fail the request.
    """
    if max_items is not None:
        # Every item names its series: counting the key (a few ms for 10 MB) refuses
        # a huge batch before orjson, which holds the GIL ~0.1 s on 10 MB, parses it.
        _bound(body.count(b'"series_id"'), max_items)
    document = parse_json_object(body)
    # No `true`/`false` in the text (strings included), no boolean in any list: the
    # columns are then packed without a type scan (validation._flat_array).
    booleans = b"true" in body or b"false" in body
    if "items" not in document and "series_ids" in document:
        return parse_columns(document, key, max_items, booleans=booleans)
    items = require_field(document, "items")
    if not isinstance(items, list):
        raise SigmawatchError(ErrorCode.INVALID_REQUEST, "items must be a list")
    if max_items is not None:
        _bound(len(items), max_items)
    parsed: list[PointsRequest | SigmawatchError] = []
    for item in items:
        try:
            parsed.append(parse_item(item, key, booleans=booleans))
        except SigmawatchError as exc:
            parsed.append(exc.with_traceback(None))  # no frame cycle per bad item
    return parsed


def parse_columns(
    document: dict[str, Any], key: str | None, max_items: int | None, *, booleans: bool = True
) -> ColumnsRequest:
    only_fields(document, COLUMNS)
    series_ids = require_field(document, "series_ids")
    if not isinstance(series_ids, list) or not set(map(type, series_ids)) <= {str}:
        raise SigmawatchError(ErrorCode.INVALID_REQUEST, "series_ids must be a list of strings")
    if max_items is not None:
        _bound(len(series_ids), max_items)
    timestamps = to_timestamps(require_field(document, "timestamps"), booleans=booleans)
    values = to_values(require_field(document, "values"), booleans=booleans)
    if not len(series_ids) == timestamps.size == values.size:
        raise SigmawatchError(
            ErrorCode.INVALID_REQUEST,
            "series_ids, timestamps and values must be of the same length",
            series_ids=len(series_ids),
            timestamps=int(timestamps.size),
            values=int(values.size),
        )
    return ColumnsRequest(series_ids, timestamps, values, key)


def _bound(items: int, max_items: int) -> None:
    if items > max_items:
        raise SigmawatchError(
            ErrorCode.TOO_MANY_ITEMS,
            f"a batch takes at most {max_items} items (SIGMAWATCH_BATCH_MAX_ITEMS), "
            f"got {items}; split it",
            max_items=max_items,
            items=items,
        )


async def read_batch(request: Request, max_items: int | None = None) -> Batch:
    key = route_key(request)
    body = await request.body()
    if len(body) > BATCH_OFF_LOOP_BYTES:
        return await to_thread.run_sync(parse_batch, body, key, max_items)
    return parse_batch(body, key, max_items)
