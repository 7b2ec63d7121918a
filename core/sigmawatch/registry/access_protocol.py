"""The registry's part in security: API keys (SEC-3) and the audit log (SEC-4).

`Registry` extends this protocol; both implementations keep the rules the
contract suite checks (`tests/contract/test_registry_access.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from sigmawatch.access import ApiKeyRecord, NewApiKey
from sigmawatch.audit import AuditEntry, AuditPage, AuditQuery

# What the change feed yields when API keys change (a colon: never a series id).
API_KEYS_CHANGE = "apikeys:"


class AccessStore(Protocol):
    # -- API keys --------------------------------------------------------------------------
    def create_api_key(self, new: NewApiKey) -> ApiKeyRecord:
        """API_KEY_EXISTS when a live (unrevoked) key has the name."""
        ...

    def api_key(self, key_hash: str) -> ApiKeyRecord | None:
        """The key with this hash, revoked and expired ones included."""
        ...

    def list_api_keys(self, *, include_revoked: bool = False) -> list[ApiKeyRecord]: ...

    def revoke_api_key(self, name: str) -> ApiKeyRecord:
        """Revoke the live key with this name and tell every serving process
        (`API_KEYS_CHANGE`); API_KEY_NOT_FOUND when there is none."""
        ...

    def touch_api_keys(self, used: Mapping[str, datetime]) -> None:
        """Record when keys (by hash) were last used."""
        ...

    # -- the audit log ---------------------------------------------------------------------
    def record_audit(self, entries: Sequence[AuditEntry]) -> None:
        """Append entries the registry does not write by itself (uploads, refusals)."""
        ...

    def audit(self, query: AuditQuery) -> AuditPage: ...

    def prune_audit(self, older_than_days: int) -> int:
        """Drop entries older than that; the only way entries ever leave the log."""
        ...
