"""HTTP routes: thin adapters that parse, call core functions or the predictor, and render."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from sigmawatch_inference.schemas import ErrorResponse

# The error envelope, documented for every status a route can answer with.
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 404, 409, 413, 422, 503)
}


def body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI request body for a route that parses its raw body itself.

    The schema is registered under components by `app.build_openapi`.
    """
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
            },
        }
    }
