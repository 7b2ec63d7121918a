"""JSON out: orjson straight from numpy arrays, and the error envelope."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response

from sigmawatch.errors import ErrorCode, SigmawatchError

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


class OrjsonResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=_OPTIONS)


def error_response(error: SigmawatchError) -> OrjsonResponse:
    response = OrjsonResponse({"error": error.to_dict()}, status_code=error.http_status)
    if error.code is ErrorCode.RATE_LIMITED:  # when to come back (SEC-2)
        details = error.details
        response.headers.update(
            {
                "retry-after": str(details["retry_after_s"]),
                # The IETF RateLimit header fields: the quota, what is left, seconds to reset.
                "ratelimit-limit": str(details["limit"]),
                "ratelimit-remaining": "0",
                "ratelimit-reset": str(details["retry_after_s"]),
            }
        )
    elif error.code is ErrorCode.STORAGE_UNAVAILABLE and "retry_after_s" in error.details:
        response.headers["retry-after"] = str(error.details["retry_after_s"])  # AV-2
    return response
