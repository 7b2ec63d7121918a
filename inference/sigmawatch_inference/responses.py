"""Request bodies in, JSON out: orjson straight to and from numpy.

Bodies are read raw and parsed with orjson rather than through pydantic
models, several times faster for large batches (docs/performance.md and
docs/decisions/0004). The pydantic models in `schemas.py` still document
every body in OpenAPI.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response

from sigmawatch.errors import ErrorCode, SigmawatchError

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


class OrjsonResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=_OPTIONS)


def error_response(error: SigmawatchError) -> OrjsonResponse:
    return OrjsonResponse({"error": error.to_dict()}, status_code=error.http_status)


async def read_json_object(request: Request) -> dict[str, Any]:
    body = await request.body()
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
    return document


def require_field(document: dict[str, Any], name: str, *, where: str = "body") -> Any:
    if name not in document:
        raise SigmawatchError(
            ErrorCode.INVALID_REQUEST, f"{where} is missing the field {name!r}", field=name
        )
    return document[name]
