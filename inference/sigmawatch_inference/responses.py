"""JSON out: orjson straight from numpy arrays, and the error envelope."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response

from sigmawatch.errors import SigmawatchError

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


class OrjsonResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=_OPTIONS)


def error_response(error: SigmawatchError) -> OrjsonResponse:
    return OrjsonResponse({"error": error.to_dict()}, status_code=error.http_status)
