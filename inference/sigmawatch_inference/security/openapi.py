"""The security part of the OpenAPI document, from the same route table the check uses."""

from __future__ import annotations

from typing import Any

from sigmawatch_inference.openapi_contract import ENVELOPE
from sigmawatch_inference.security.routes import rule_for
from sigmawatch_inference.security.settings import API_KEY, JWT

SCHEMES = {
    API_KEY: ("ApiKey", {"type": "apiKey", "in": "header", "name": "X-API-Key"}),
    JWT: ("Bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}),
}


def add_security(schema: dict[str, Any], methods: frozenset[str]) -> None:
    """Each operation's required role (`x-required-role`), and when authentication is on,
    its security requirement and 401/403 answers."""
    schemes = [SCHEMES[m] for m in sorted(methods)]
    if schemes:
        components = schema.setdefault("components", {})
        components.setdefault("securitySchemes", {}).update(dict(schemes))
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            rule, _ = rule_for(method.upper(), _example(path))
            operation["x-required-role"] = rule.role.value if rule.role else None
            if not schemes:
                continue
            if rule.role is None:
                operation["security"] = []
                continue
            operation["security"] = [{name: []} for name, _ in schemes]
            responses = operation.setdefault("responses", {})
            for status, what in (("401", "No or invalid credentials"), ("403", "Role too low")):
                responses.setdefault(
                    status,
                    {"description": what, "content": ENVELOPE},
                )


def _example(template: str) -> str:
    """A concrete path for a template, to find its rule the way a request would."""
    return template.replace("{", "").replace("}", "")
