"""The OpenAPI document as strict as the service, for generated clients and fuzzers (SEC-1).

Routes check their path parameters by hand, with the patterns of
`sigmawatch.validation`, and hot routes parse their own bodies, so FastAPI
cannot derive all of the contract. What it cannot is written onto the
document here, once, when it is built:

- path parameters: the pattern each is checked against, the rollout actions;
- bodies: the training bounds of this service's own settings;
- responses: every error status an operation can answer, always the JSON
  envelope (a page such as /plot answers errors in JSON too).

The rest (query bounds, enums, required fields) is declared where it is
checked: in the routes' `Query` annotations and the request models.
"""

from __future__ import annotations

import re
from typing import Any

from sigmawatch.access import KEY_NAME_RE
from sigmawatch.settings import TrainingSettings
from sigmawatch.validation import ROLLOUT_RE, SERIES_ID_RE, VERSION_RE
from sigmawatch_inference.guards import PROBE_PATHS
from sigmawatch_inference.routes.access import AUDIT_CURSOR
from sigmawatch_inference.routes.rollouts import ACTIONS

ENVELOPE = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
_BODY_METHODS = frozenset({"post", "put", "patch"})
# Routes whose callers are counted by the rate limits (SEC-2).
LIMITED = frozenset(
    {"/v1/series/{series_id}/predict", "/v1/predict", "/v1/series/{series_id}/train"}
)
_REASONS = {
    "400": "Invalid request (the code names what is wrong)",
    "404": "Not found",
    "409": "Conflicts with the current state",
    "413": "Body or batch too large",
    "415": "Not sent as application/json",
    "422": "Valid JSON the service cannot use (e.g. too little data)",
    "429": "Rate limited: see Retry-After",
    "503": "Storage unavailable: retry",
}


def _exactly(pattern: re.Pattern[str]) -> str:
    return f"^{pattern.pattern}$"


PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "series_id": {"type": "string", "pattern": _exactly(SERIES_ID_RE), "example": "pump_7"},
    "version": {"type": "string", "pattern": _exactly(VERSION_RE), "example": "v3"},
    "rollout": {"type": "string", "pattern": _exactly(ROLLOUT_RE), "example": "r12"},
    "name": {"type": "string", "pattern": _exactly(KEY_NAME_RE), "example": "grafana"},
    "action": {"type": "string", "enum": list(ACTIONS)},
}
# Optional query parameters checked against the same patterns as the paths'.
QUERY_PARAMETERS: dict[str, dict[str, Any]] = {
    "version": PATH_PARAMETERS["version"],
    "series_id": PATH_PARAMETERS["series_id"],
}


# Query parameters of one operation only.
OPERATION_PARAMETERS: dict[tuple[str, str], dict[str, Any]] = {
    ("/v1/audit", "cursor"): {"type": "string", "pattern": _exactly(AUDIT_CURSOR)},
    # A prefix of series ids: their characters, and as long as one at most.
    ("/v1/models", "series_prefix"): PATH_PARAMETERS["series_id"],
}


def make_strict(schema: dict[str, Any], settings: TrainingSettings) -> None:
    """Write the contract the routes enforce by hand onto `schema` (in place)."""
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            _parameters(path, operation)
            if path not in PROBE_PATHS:
                _responses(path, method, operation)
    components = schema["components"]["schemas"]
    for name in ("TrainRequest", "DatasetRequest"):
        _training_bounds(components[name], settings)


def _parameters(path: str, operation: dict[str, Any]) -> None:
    for parameter in operation.get("parameters", []):
        where, name = parameter["in"], parameter["name"]
        strict = (PATH_PARAMETERS if where == "path" else QUERY_PARAMETERS).get(name)
        strict = OPERATION_PARAMETERS.get((path, name), strict)
        if strict is not None:
            parameter["schema"] = dict(strict)


def _responses(path: str, method: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    statuses = {"400", "404", "409", "422", "503"}
    if method in _BODY_METHODS:
        statuses |= {"413", "415"}
    if path in LIMITED:
        statuses.add("429")
    for status in statuses:
        responses.setdefault(status, {"description": _REASONS[status]})
    for status, response in responses.items():
        if status[0] in "45":  # errors leave in the envelope, whatever the page's type
            response["content"] = ENVELOPE
            response.setdefault("description", _REASONS.get(status, "Error"))


def _training_bounds(model: dict[str, Any], settings: TrainingSettings) -> None:
    """Both body shapes, each with this service's bounds on the number of points."""
    sized = {"minItems": settings.min_training_points, "maxItems": settings.max_training_points}
    properties = model["properties"]
    columns = {
        "timestamps": {
            "type": "array",
            "items": {"type": "integer", "minimum": 1},
            "uniqueItems": True,
            **sized,
        },
        "values": {"type": "array", "items": {"type": "number"}, **sized},
    }
    points = {"type": "array", "items": {"$ref": "#/components/schemas/PointModel"}, **sized}
    for name, strict in (*columns.items(), ("points", points)):
        properties[name] = strict | {"description": properties[name].get("description", "")}
    model["oneOf"] = [
        {"required": ["timestamps", "values"], "not": {"required": ["points"]}},
        {
            "required": ["points"],
            "not": {"anyOf": [{"required": ["timestamps"]}, {"required": ["values"]}]},
        },
    ]
