"""HTTP routes: thin adapters from requests to core functions and the resolver."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


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
