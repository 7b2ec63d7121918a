"""The service's authentication (SEC-3), rate limit (SEC-2) and audit (SEC-4) settings, mixed into
`ServiceSettings`; every field is a `SIGMAWATCH_*` variable like the others."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal, Self

import limits
from pydantic import BaseModel, Field, SecretStr, model_validator

from sigmawatch.access import Role
from sigmawatch.settings import comma_list

API_KEY, JWT = "api_key", "jwt"
LIMITS = (
    "rate_limit_series_predictions",
    "rate_limit_client_predictions",
    "rate_limit_series_trainings",
    "rate_limit_client_trainings",
)


class AccessSettings(BaseModel):
    auth: str = Field(
        default="none",
        description="How callers prove who they are: `none`, `api_key`, `jwt` or `api_key,jwt`.",
    )
    allow_unauthenticated: bool = Field(
        default=False,
        description="Let `sigmawatch serve` bind a non-loopback address with `auth=none`.",
    )
    admin_api_key: SecretStr | None = Field(
        default=None,
        min_length=32,
        description="An admin key registered as `bootstrap-admin` at start-up (from a Secret).",
    )
    api_key_cache_s: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="How long a process trusts what it read about a key; a revocation "
        "reaches every process at once, or within this.",
    )
    jwt_secret: SecretStr | None = Field(default=None, description="HS256 shared secret.")
    jwt_jwks_file: Path | None = Field(
        default=None, description="RS256/ES256 public keys: a JWKS file."
    )
    jwt_jwks_url: str | None = Field(
        default=None, description="RS256/ES256 public keys: a JWKS URL (cached for 5 minutes)."
    )
    jwt_issuer: str | None = Field(default=None, description="The `iss` every token must have.")
    jwt_audience: str | None = Field(
        default=None, description="The `aud` every token must include."
    )
    jwt_leeway_s: int = Field(
        default=30, ge=0, le=600, description="Clock skew allowed on `exp`, `nbf` and `iat`."
    )
    jwt_role_claim: str = Field(
        default="roles",
        description="The claim with the caller's roles: a list, or space-separated (`scope`).",
    )
    jwt_role_map: str = Field(
        default="read=viewer,write=trainer,admin=admin",
        description="Claim values that mean a role, besides the role names themselves.",
    )
    trusted_proxies: str = Field(
        default="",
        description="Proxies (addresses or CIDRs) whose `X-Forwarded-For` names the client.",
    )
    rate_limits: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="SEC-2 rate limits: `auto` turns them on whenever authentication is on.",
    )
    redis_url: SecretStr | None = Field(
        default=None,
        description="`redis://` URL: rate limits shared by every process; unset: per process.",
    )
    rate_limit_series_predictions: str = Field(
        default="1000 per minute", description="Predicted points per series (batches count each)."
    )
    rate_limit_client_predictions: str = Field(
        default="10000 per minute", description="Predicted points per client (key, token or IP)."
    )
    rate_limit_series_trainings: str = Field(
        default="1 per 5 minutes", description="Trainings per series (an existing version is none)."
    )
    rate_limit_client_trainings: str = Field(
        default="100 per hour", description="Trainings per client (key, token or IP)."
    )
    audit_keep_days: int = Field(
        default=365, ge=1, description="Audit log entries are purged after this many days."
    )

    @property
    def auth_methods(self) -> frozenset[str]:
        return frozenset(comma_list(self.auth)) - {"none"}

    @property
    def role_map(self) -> dict[str, Role]:
        mapped = {role.value: role for role in Role}
        for pair in comma_list(self.jwt_role_map):
            claim, _, role = pair.partition("=")
            mapped[claim.strip()] = Role(role.strip())
        return mapped

    @property
    def proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(
            ipaddress.ip_network(p, strict=False) for p in comma_list(self.trusted_proxies)
        )

    @property
    def rate_limits_on(self) -> bool:
        return self.rate_limits == "on" or (self.rate_limits == "auto" and bool(self.auth_methods))

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        methods = set(comma_list(self.auth))
        if methods not in ({"none"}, {API_KEY}, {JWT}, {API_KEY, JWT}):
            raise ValueError("auth must be none, api_key, jwt or api_key,jwt")
        if JWT in methods:
            sources = [self.jwt_secret, self.jwt_jwks_file, self.jwt_jwks_url]
            if sum(s is not None for s in sources) != 1:
                raise ValueError(
                    "auth=jwt needs exactly one of JWT_SECRET, JWT_JWKS_FILE, JWT_JWKS_URL"
                )
            if not self.jwt_issuer or not self.jwt_audience:
                raise ValueError(
                    "auth=jwt needs JWT_ISSUER and JWT_AUDIENCE: every token is checked"
                )
        for name in LIMITS:
            try:
                limits.parse(getattr(self, name))
            except ValueError:
                raise ValueError(
                    f"{name.upper()}: not a rate, e.g. 1000 per minute or 1 per 5 minutes"
                ) from None
        try:
            self.role_map  # noqa: B018 (parsed here so a bad map stops start-up)
            self.proxy_networks  # noqa: B018
        except ValueError as exc:
            raise ValueError(f"JWT_ROLE_MAP or TRUSTED_PROXIES: {exc}") from None
        return self


def exposure_refusal(host: str, settings: AccessSettings) -> str | None:
    """Why `sigmawatch serve` must not bind `host` (None: it may). Binding anything but
    loopback with authentication off is refused, unless asked for on purpose."""
    if settings.auth_methods or settings.allow_unauthenticated or _loopback(host):
        return None
    return (
        f"refusing to serve on {host} with SIGMAWATCH_AUTH=none: anyone who reaches it could "
        "train, roll back and read data. Turn authentication on (SIGMAWATCH_AUTH=api_key, "
        "docs/security.md), or set SIGMAWATCH_ALLOW_UNAUTHENTICATED=true to do this on purpose"
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
