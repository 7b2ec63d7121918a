"""`PostgresRegistry`'s API keys and audit log (the rest is in registry.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sigmawatch.access import ApiKeyRecord, NewApiKey
from sigmawatch.audit import AuditEntry, AuditPage, AuditQuery
from sigmawatch.registry.postgres import access
from sigmawatch.registry.postgres.pooled import Pooled


class AccessMethods(Pooled):
    def create_api_key(self, new: NewApiKey) -> ApiKeyRecord:
        with self._write("create_api_key") as conn:
            return access.create_key(conn, new)

    def api_key(self, key_hash: str) -> ApiKeyRecord | None:
        with self._read("api_key") as conn:
            return access.key_by_hash(conn, key_hash)

    def list_api_keys(self, *, include_revoked: bool = False) -> list[ApiKeyRecord]:
        with self._read("list_api_keys") as conn:
            return access.list_keys(conn, include_revoked)

    def revoke_api_key(self, name: str) -> ApiKeyRecord:
        with self._write("revoke_api_key") as conn:
            return access.revoke_key(conn, name)

    def touch_api_keys(self, used: Mapping[str, datetime]) -> None:
        if used:
            with self._write("touch_api_keys") as conn:
                access.touch_keys(conn, used)

    def record_audit(self, entries: Sequence[AuditEntry]) -> None:
        if entries:
            with self._write("record_audit") as conn:
                access.write_audits(conn, entries)

    def audit(self, query: AuditQuery) -> AuditPage:
        with self._read("audit") as conn:
            return access.page(conn, query)

    def prune_audit(self, older_than_days: int) -> int:
        with self._write("prune_audit") as conn:
            return access.purge(conn, older_than_days)
