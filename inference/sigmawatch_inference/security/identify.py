"""From a request's credentials to a principal: who calls, and with which role (SEC-3).

`X-API-Key` is checked against the registry's key hashes (cached briefly);
`Authorization: Bearer` against the JWT settings. A request with neither
is anonymous, which only open routes accept. Every refusal is a 401
`UNAUTHENTICATED` (no credentials) or `INVALID_CREDENTIALS` (unknown,
revoked or expired key, invalid token) with a `WWW-Authenticate` challenge.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from anyio import to_thread

from sigmawatch.access import ApiKeyRecord, Role, hash_key
from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.registry import Registry
from sigmawatch_inference.security.keys import KeyCache
from sigmawatch_inference.security.settings import API_KEY, JWT, AccessSettings
from sigmawatch_inference.security.tokens import TokenError, TokenVerifier, VerifiedTokens

STARTING = "service is starting; retry shortly"


@dataclass(frozen=True, slots=True)
class Principal:
    name: str  # the audit actor: key/<name>, token/<subject>, anonymous
    role: Role | None


ANONYMOUS = Principal("anonymous", None)
UNCHECKED = Principal("anonymous", Role.ADMIN)  # authentication is off


class Identify:
    def __init__(
        self,
        settings: AccessSettings,
        keys: KeyCache,
        registry: Callable[[], Registry | None],
    ) -> None:
        self.methods = settings.auth_methods
        self.keys = keys
        self.registry = registry
        self.tokens = TokenVerifier(settings) if JWT in self.methods else None
        self.verified = VerifiedTokens()
        self._lookups: dict[str, asyncio.Future[ApiKeyRecord | None]] = {}
        self.challenge = ", ".join(
            c
            for c in (
                'ApiKey realm="sigmawatch", header="X-API-Key"' if API_KEY in self.methods else "",
                'Bearer realm="sigmawatch"' if self.tokens else "",
            )
            if c
        )

    @property
    def enabled(self) -> bool:
        return bool(self.methods)

    async def principal(self, api_key: bytes | None, authorization: bytes | None) -> Principal:
        if api_key is not None and API_KEY in self.methods:
            return await self._key(api_key.decode("latin-1"))
        if authorization is not None and self.tokens is not None:
            scheme, _, token = authorization.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return await self._token(self.tokens, token.strip())
        if api_key is not None or authorization is not None:
            raise self.invalid("these credentials are not accepted here", scheme="")
        return ANONYMOUS

    async def _key(self, key: str) -> Principal:
        key_hash = hash_key(key)
        cached, record = self.keys.get(key_hash)
        if not cached:
            record = await self._looked_up(key_hash)
        if record is None or not record.usable(datetime.now(UTC)):
            raise self.invalid("the API key is unknown, revoked or expired", scheme="ApiKey")
        self.keys.used(key_hash)
        return Principal(f"key/{record.name}", record.role)

    async def _looked_up(self, key_hash: str) -> ApiKeyRecord | None:
        """The registry's record of a key not in the cache, asked once however many
        requests carry it meanwhile: when a busy key's entry expires, every request of
        the next milliseconds would otherwise query for it."""
        lookup = self._lookups.get(key_hash)
        if lookup is None:
            registry = self.registry()
            if registry is None:
                raise SigmawatchError(ErrorCode.STORAGE_UNAVAILABLE, STARTING)
            lookup = asyncio.ensure_future(self._lookup(registry, key_hash))
            self._lookups[key_hash] = lookup
            lookup.add_done_callback(lambda done: self._forget(key_hash, done))
        # Shielded: a caller that goes away does not cancel the others' lookup.
        return await asyncio.shield(lookup)

    def _forget(self, key_hash: str, done: asyncio.Future[ApiKeyRecord | None]) -> None:
        self._lookups.pop(key_hash, None)
        if not done.cancelled():
            done.exception()  # read here too: every waiter may have gone before it failed

    async def _lookup(self, registry: Registry, key_hash: str) -> ApiKeyRecord | None:
        generation = self.keys.generation
        record = await to_thread.run_sync(registry.api_key, key_hash)
        self.keys.put(key_hash, record, generation)
        return record

    async def _token(self, tokens: TokenVerifier, token: str) -> Principal:
        claims = self.verified.known(token)
        if claims is None:
            try:
                if tokens.may_block:
                    claims = await to_thread.run_sync(tokens.verify, token)
                else:
                    claims = tokens.verify(token)
            except TokenError as exc:
                raise self.invalid(
                    f"the bearer token is not valid: {exc}", scheme="Bearer"
                ) from None
            self.verified.remember(token, claims)
        return Principal(f"token/{claims.subject[:128]}", claims.role)

    def invalid(self, message: str, *, scheme: str) -> SigmawatchError:
        return SigmawatchError(ErrorCode.INVALID_CREDENTIALS, message, scheme=scheme or None)

    def missing(self) -> SigmawatchError:
        accepted = sorted(self.methods)
        named = {API_KEY: "an X-API-Key header", JWT: "a bearer token"}
        return SigmawatchError(
            ErrorCode.UNAUTHENTICATED,
            "this route needs credentials: " + " or ".join(named[m] for m in accepted),
            accepted=accepted,
        )


def forbidden(principal: Principal, needed: Role) -> SigmawatchError:
    has = principal.role.value if principal.role else None
    return SigmawatchError(
        ErrorCode.FORBIDDEN,
        f"this route needs the {needed.value} role; "
        + (f"{principal.name} has {has}" if has else f"{principal.name} has no role"),
        required_role=needed.value,
        role=has,
    )
