"""JWT bearer tokens (SEC-3): verified against one key source, mapped onto roles.

The key source is an HS256 secret, or RS256/ES256 public keys from a JWKS
file or URL; only that family's algorithms are accepted, so a token cannot
pick `none` or sign with the public key as an HMAC secret. Expiry, issuer,
audience and subject are required and checked, with `jwt_leeway_s` of
clock skew. The caller's role is the highest one its role claim names.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from sigmawatch import tracing
from sigmawatch.access import Role
from sigmawatch_inference.security.settings import AccessSettings

HMAC = ("HS256",)
PUBLIC_KEY = ("RS256", "ES256")
JWKS_TIMEOUT_S = 5.0
REQUIRED = ["exp", "iss", "aud", "sub"]


class _JWKClient(jwt.PyJWKClient):
    """Fetches the key set with the request's trace context (OBS-5): the identity
    provider's own traces then show which request made it refresh its keys."""

    def fetch_data(self) -> Any:
        self.headers = tracing.inject({})
        return super().fetch_data()


class TokenError(Exception):
    """The token is not one this service accepts; the message says why."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    subject: str
    role: Role | None  # None: valid, but it names no role this service knows
    expires_at: float  # its `exp`, Unix seconds


class VerifiedTokens:
    """Tokens already verified, until their `exp` (no leeway): a client sends the same
    token with every request, and verifying one costs ~45 µs, a third of a predict."""

    def __init__(self, max_tokens: int = 10_000) -> None:
        self.max_tokens = max_tokens
        self._claims: dict[str, TokenClaims] = {}

    def known(self, token: str) -> TokenClaims | None:
        claims = self._claims.get(token)
        if claims is not None and claims.expires_at > time.time():
            return claims
        return None

    def remember(self, token: str, claims: TokenClaims) -> None:
        if len(self._claims) >= self.max_tokens:  # many clients, or sprayed tokens
            self._claims.clear()
        self._claims[token] = claims


class TokenVerifier:
    def __init__(self, settings: AccessSettings) -> None:
        self.issuer = settings.jwt_issuer
        self.audience = settings.jwt_audience
        self.leeway = settings.jwt_leeway_s
        self.role_claim = settings.jwt_role_claim
        self.role_map = settings.role_map
        self._secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
        self._keys: jwt.PyJWKSet | None = None
        self._client: jwt.PyJWKClient | None = None
        if settings.jwt_jwks_file is not None:
            self._keys = jwt.PyJWKSet.from_json(settings.jwt_jwks_file.read_text())
        elif settings.jwt_jwks_url is not None:
            self._client = _JWKClient(settings.jwt_jwks_url, timeout=JWKS_TIMEOUT_S)

    @property
    def may_block(self) -> bool:
        """True when verifying may fetch keys over the network (run it off the loop)."""
        return self._client is not None

    def verify(self, token: str) -> TokenClaims:
        algorithms = HMAC if self._secret is not None else PUBLIC_KEY
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") not in algorithms:
                raise TokenError(f"tokens must be signed with {' or '.join(algorithms)}")
            claims = jwt.decode(
                token,
                self._key(token, header),
                algorithms=list(algorithms),
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": REQUIRED},
            )
        except jwt.PyJWTError as exc:
            raise TokenError(str(exc) or type(exc).__name__) from None
        return TokenClaims(str(claims["sub"]), self.role_of(claims), float(claims["exp"]))

    def _key(self, token: str, header: Mapping[str, Any]) -> Any:
        if self._secret is not None:
            return self._secret
        if self._client is not None:
            return self._client.get_signing_key_from_jwt(token).key
        assert self._keys is not None
        kid = header.get("kid")
        if kid is None:
            if len(self._keys.keys) != 1:
                raise TokenError("the token names no key (kid) and the JWKS has several")
            return self._keys.keys[0].key
        try:
            return self._keys[str(kid)].key
        except KeyError:
            raise TokenError(f"no key {kid!r} in the JWKS") from None

    def role_of(self, claims: Mapping[str, Any]) -> Role | None:
        raw = claims.get(self.role_claim)
        names = raw.split() if isinstance(raw, str) else raw if isinstance(raw, list) else []
        roles = [self.role_map[n] for n in names if isinstance(n, str) and n in self.role_map]
        return max(roles, key=lambda r: r.rank) if roles else None
