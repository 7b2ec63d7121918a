"""Who may do what (SEC-3): roles, and API keys as the registry stores them.

A key is 32 random bytes, shown once when it is created. The registry keeps
only its SHA-256 and a short hint to recognise it in lists. A fast hash is
enough here: a key has 256 bits of entropy, so unlike a password it cannot
be guessed from its hash, and every request can afford to check one.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sigmawatch.durations import parse_duration
from sigmawatch.errors import ErrorCode, SigmawatchError


class Role(StrEnum):
    VIEWER = "viewer"  # predict, versions, catalogue, stats, plot
    TRAINER = "trainer"  # + train, datasets, feedback
    ADMIN = "admin"  # + rollback, restore, rollouts, keys, audit

    @property
    def rank(self) -> int:
        return _RANK[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_RANK = {Role.VIEWER: 1, Role.TRAINER: 2, Role.ADMIN: 3}

KEY_PREFIX = "swk_"
HINT_LENGTH = len(KEY_PREFIX) + 6
KEY_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def key_hint(key: str) -> str:
    return key[:HINT_LENGTH]


def validate_key_name(name: str) -> str:
    if not KEY_NAME_RE.fullmatch(name):
        raise SigmawatchError(
            ErrorCode.INVALID_REQUEST,
            "a key name is 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit",
            field="name",
        )
    return name


def parse_role(value: str, field: str = "role") -> Role:
    try:
        return Role(value)
    except ValueError:
        raise SigmawatchError(
            ErrorCode.INVALID_REQUEST,
            f"{field} must be one of {', '.join(r.value for r in Role)}",
            field=field,
            received=value[:64],
        ) from None


@dataclass(frozen=True, slots=True)
class NewApiKey:
    name: str
    role: Role
    key_hash: str
    hint: str
    created_by: str
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    name: str
    role: Role
    hint: str
    created_at: datetime
    created_by: str
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    def usable(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)

    def to_dict(self) -> dict[str, Any]:
        def iso(at: datetime | None) -> str | None:
            return at.isoformat() if at else None

        return {
            "name": self.name,
            "role": self.role.value,
            "hint": self.hint,
            "created_at": iso(self.created_at),
            "created_by": self.created_by,
            "expires_at": iso(self.expires_at),
            "last_used_at": iso(self.last_used_at),
            "revoked_at": iso(self.revoked_at),
        }


def new_api_key(
    name: object, role: object, expires_in: object, created_by: str
) -> tuple[str, NewApiKey]:
    """A fresh key to show once, and what the registry stores of it. `expires_in` is a
    duration (90d, 12h) or None for a key that does not expire."""
    if not isinstance(name, str) or not isinstance(role, str):
        raise SigmawatchError(ErrorCode.INVALID_REQUEST, "a key's name and role are strings")
    expires_at = None
    if expires_in is not None:
        try:
            expires_at = datetime.now(UTC) + timedelta(seconds=parse_duration(str(expires_in)))
        except ValueError as exc:
            raise SigmawatchError(ErrorCode.INVALID_REQUEST, str(exc), field="expires_in") from None
    key = generate_key()
    new = NewApiKey(
        validate_key_name(name),
        parse_role(role),
        hash_key(key),
        key_hint(key),
        created_by,
        expires_at,
    )
    return key, new


def key_exists(name: str) -> SigmawatchError:
    return SigmawatchError(
        ErrorCode.API_KEY_EXISTS,
        f"an API key named {name!r} exists; revoke it first or choose another name",
        name=name,
    )


def key_not_found(name: str) -> SigmawatchError:
    return SigmawatchError(
        ErrorCode.API_KEY_NOT_FOUND, f"there is no live API key named {name!r}", name=name
    )
