"""Which role each route needs (SEC-3), and which routes are audited (SEC-4).

One table drives the check in `Authenticate` and the security requirements
in the OpenAPI document. A path no rule matches needs `admin`: a route added
without a rule is closed, not open, and a test fails until it gets one.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from sigmawatch.access import Role

VIEWER, TRAINER, ADMIN = Role.VIEWER, Role.TRAINER, Role.ADMIN


@dataclass(frozen=True, slots=True)
class Rule:
    method: str  # GET also covers HEAD
    template: str  # as FastAPI declares the route
    role: Role | None  # None: open to anyone (probes, metrics, static assets)
    # The audit action of a state-changing route: refusals of it are recorded by the
    # HTTP layer, since a refused change leaves nothing in the registry.
    action: str | None = None
    # Also record successes here: routes whose change is not the registry's.
    audit_success: bool = False
    pattern: re.Pattern[str] | None = None

    def matches(self, method: str, path: str) -> re.Match[str] | None:
        if method != self.method and not (method == "HEAD" and self.method == "GET"):
            return None
        assert self.pattern is not None
        return self.pattern.fullmatch(path)


def _compiled(rule: Rule) -> Rule:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", rule.template.replace(".", r"\."))
    if rule.template.endswith("/{path:path}"):
        regex = regex.replace("(?P<path>[^/]+)", "(?P<path>.*)")
    return dataclasses.replace(rule, pattern=re.compile(regex))


SERIES = "/v1/series/{series_id}"
RULES = tuple(
    _compiled(r)
    for r in (
        # The hot path first: most requests are predictions.
        Rule("POST", f"{SERIES}/predict", VIEWER),
        Rule("POST", "/v1/predict", VIEWER),
        Rule("GET", "/liveness", None),
        Rule("GET", "/readiness", None),
        Rule("GET", "/healthcheck", None),
        Rule("GET", "/metrics", None),
        Rule("GET", "/static/{path:path}", None),
        Rule("GET", "/docs", VIEWER),
        Rule("GET", "/openapi.json", VIEWER),
        Rule("GET", "/plot", VIEWER),
        Rule("GET", f"{SERIES}/versions", VIEWER),
        Rule("GET", f"{SERIES}/versions/{{version}}", VIEWER),
        Rule("GET", f"{SERIES}/versions/{{version}}/stats", VIEWER),
        Rule("GET", "/v1/models", VIEWER),
        Rule("GET", "/v1/anomaly-rates", VIEWER),
        Rule("GET", "/v1/drift", VIEWER),
        Rule("GET", f"{SERIES}/rollout", VIEWER),
        Rule("GET", "/v1/rollouts", VIEWER),
        Rule("GET", "/v1/rollouts/{rollout}", VIEWER),
        Rule("POST", f"{SERIES}/train", TRAINER, "train"),
        Rule("PUT", f"{SERIES}/dataset", TRAINER, "dataset.upload", audit_success=True),
        Rule("POST", f"{SERIES}/feedback", TRAINER, "feedback"),
        Rule("POST", f"{SERIES}/rollback", ADMIN, "rollback"),
        Rule("POST", f"{SERIES}/versions/{{version}}/restore", ADMIN, "restore"),
        Rule("POST", f"{SERIES}/rollouts", ADMIN, "rollout.start"),
        Rule("POST", "/v1/rollouts", ADMIN, "rollout.start"),
        Rule("POST", f"{SERIES}/rollout/{{action}}", ADMIN, "rollout.change"),
        Rule("POST", "/v1/rollouts/{rollout}/{action}", ADMIN, "rollout.change"),
        Rule("POST", "/v1/apikeys", ADMIN, "apikey.create"),
        Rule("GET", "/v1/apikeys", ADMIN),
        Rule("POST", "/v1/apikeys/{name}/revoke", ADMIN, "apikey.revoke"),
        Rule("GET", "/v1/audit", ADMIN),
    )
)
# Anything else: closed to all but admins (and answered 404 or 405 by the router).
UNLISTED = Rule("*", "*", ADMIN)


def rule_for(method: str, path: str) -> tuple[Rule, dict[str, str]]:
    """The rule of a request, and the path parameters it matched."""
    for rule in RULES:
        found = rule.matches(method, path)
        if found is not None:
            return rule, found.groupdict()
    return UNLISTED, {}
