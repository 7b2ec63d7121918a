"""`MemoryRegistry`'s API keys and audit log, with PostgreSQL's semantics."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from sigmawatch.access import ApiKeyRecord, NewApiKey, key_exists, key_not_found
from sigmawatch.audit import AuditEntry, AuditPage, AuditQuery, matches
from sigmawatch.registry import audit_entries
from sigmawatch.registry.access_protocol import API_KEYS_CHANGE
from sigmawatch.registry.memory.base import MemoryState, atomic


class Access(MemoryState):
    @atomic
    def create_api_key(self, new: NewApiKey) -> ApiKeyRecord:
        live = (r for r in self.api_keys.values() if r.revoked_at is None)
        if any(r.name == new.name for r in live) or new.key_hash in self.api_keys:
            raise key_exists(new.name)
        record = ApiKeyRecord(
            name=new.name,
            role=new.role,
            hint=new.hint,
            created_at=datetime.now(UTC),
            created_by=new.created_by,
            expires_at=new.expires_at,
        )
        self.api_keys[new.key_hash] = record
        self.write_audit(audit_entries.key_created(record))
        return record

    @atomic
    def api_key(self, key_hash: str) -> ApiKeyRecord | None:
        return self.api_keys.get(key_hash)

    @atomic
    def list_api_keys(self, *, include_revoked: bool = False) -> list[ApiKeyRecord]:
        records = list(self.api_keys.values())
        if not include_revoked:
            records = [r for r in records if r.revoked_at is None]
        return sorted(records, key=lambda r: (r.name, r.created_at))

    @atomic
    def revoke_api_key(self, name: str) -> ApiKeyRecord:
        for key_hash, record in self.api_keys.items():
            if record.name == name and record.revoked_at is None:
                revoked = self.api_keys[key_hash] = dataclasses.replace(
                    record, revoked_at=datetime.now(UTC)
                )
                self.write_audit(audit_entries.key_revoked(revoked))
                self.announce(API_KEYS_CHANGE)
                return revoked
        raise key_not_found(name)

    @atomic
    def touch_api_keys(self, used: Mapping[str, datetime]) -> None:
        for key_hash, at in used.items():
            record = self.api_keys.get(key_hash)
            if record is not None:
                last = record.last_used_at
                self.api_keys[key_hash] = dataclasses.replace(
                    record, last_used_at=max(last, at) if last else at
                )

    @atomic
    def record_audit(self, entries: Sequence[AuditEntry]) -> None:
        for entry in entries:
            self.write_audit(entry)

    @atomic
    def audit(self, query: AuditQuery) -> AuditPage:
        found = [r for r in reversed(self.audit_log) if matches(r, query)]
        entries = found[: query.limit]
        more = len(found) > query.limit
        return AuditPage(entries, entries[-1].id if more and entries else None)

    @atomic
    def prune_audit(self, older_than_days: int) -> int:
        cutoff = datetime.now(UTC) - timedelta(days=older_than_days)
        kept = [r for r in self.audit_log if r.at >= cutoff]
        pruned = len(self.audit_log) - len(kept)
        self.audit_log[:] = kept
        return pruned
