"""API keys and the audit log in PostgreSQL (SEC-3, SEC-4).

`write_audit` runs inside the caller's transaction: the other modules call it
next to the change they make, so a change and its entry commit together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from sigmawatch.access import ApiKeyRecord, NewApiKey, Role, key_exists, key_not_found
from sigmawatch.audit import AuditEntry, AuditPage, AuditQuery, AuditRecord
from sigmawatch.registry import audit_entries
from sigmawatch.registry.postgres.connection import Conn, publish

KEY_COLUMNS = "name, role, hint, created_at, created_by, expires_at, last_used_at, revoked_at"
INSERT_KEY = (
    "INSERT INTO api_keys (name, role, key_hash, hint, created_by, expires_at)"
    f" VALUES (%s, %s, %s, %s, %s, %s) RETURNING {KEY_COLUMNS}"
)
KEY_BY_HASH = f"SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = %s"
LIVE_KEYS = f"SELECT {KEY_COLUMNS} FROM api_keys WHERE revoked_at IS NULL ORDER BY name"
ALL_KEYS = f"SELECT {KEY_COLUMNS} FROM api_keys ORDER BY name, created_at"
REVOKE_KEY = (
    "UPDATE api_keys SET revoked_at = now() WHERE name = %s AND revoked_at IS NULL"
    f" RETURNING {KEY_COLUMNS}"
)
TOUCH_KEY = "UPDATE api_keys SET last_used_at = greatest(last_used_at, %s) WHERE key_hash = %s"
INSERT_AUDIT = (
    "INSERT INTO audit_log (actor, action, outcome, series_id, version, details,"
    " request_id, trace_id, client, correlation_id)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
AUDIT_COLUMNS = (
    "entry_id AS id, at, actor, action, outcome, series_id, version, details,"
    " request_id, trace_id, client, correlation_id"
)
AUDIT_PAGE = (
    f"SELECT {AUDIT_COLUMNS} FROM audit_log"
    " WHERE (%(actor)s::text IS NULL OR actor = %(actor)s)"
    "   AND (%(action)s::text IS NULL OR action = %(action)s"
    "        OR (right(%(action)s, 1) = '.' AND starts_with(action, %(action)s)))"
    "   AND (%(series_id)s::text IS NULL OR series_id = %(series_id)s)"
    "   AND (%(correlation_id)s::text IS NULL OR correlation_id = %(correlation_id)s)"
    "   AND (%(since)s::timestamptz IS NULL OR at >= %(since)s)"
    "   AND (%(until)s::timestamptz IS NULL OR at < %(until)s)"
    "   AND (%(before)s::bigint IS NULL OR entry_id < %(before)s)"
    " ORDER BY entry_id DESC LIMIT %(limit)s"
)
PURGE = "DELETE FROM audit_log WHERE at < now() - make_interval(days => %s)"


def _key(row: Mapping[str, Any]) -> ApiKeyRecord:
    return ApiKeyRecord(**{**row, "role": Role(row["role"])})


def create_key(conn: Conn, new: NewApiKey) -> ApiKeyRecord:
    try:
        with conn.transaction():
            row = conn.execute(
                INSERT_KEY,
                (new.name, new.role.value, new.key_hash, new.hint, new.created_by, new.expires_at),
            ).fetchone()
    except psycopg.errors.UniqueViolation:
        raise key_exists(new.name) from None
    assert row is not None
    record = _key(row)
    write_audit(conn, audit_entries.key_created(record))
    return record


def key_by_hash(conn: Conn, key_hash: str) -> ApiKeyRecord | None:
    row = conn.execute(KEY_BY_HASH, (key_hash,)).fetchone()
    return _key(row) if row else None


def list_keys(conn: Conn, include_revoked: bool) -> list[ApiKeyRecord]:
    return [_key(row) for row in conn.execute(ALL_KEYS if include_revoked else LIVE_KEYS)]


def revoke_key(conn: Conn, name: str) -> ApiKeyRecord:
    row = conn.execute(REVOKE_KEY, (name,)).fetchone()
    if row is None:
        raise key_not_found(name)
    record = _key(row)
    write_audit(conn, audit_entries.key_revoked(record))
    publish(conn, {"apikeys": True})
    return record


def touch_keys(conn: Conn, used: Mapping[str, datetime]) -> None:
    with conn.cursor() as cursor:
        cursor.executemany(TOUCH_KEY, [(at, key_hash) for key_hash, at in used.items()])


def write_audit(conn: Conn, entry: AuditEntry) -> None:
    write_audits(conn, [entry])


def write_audits(conn: Conn, entries: Sequence[AuditEntry]) -> None:
    rows = []
    for entry in entries:
        actor = entry.by()
        rows.append(
            (
                actor.name,
                entry.action,
                entry.outcome,
                entry.series_id,
                entry.version,
                Jsonb(dict(entry.details)),
                actor.request_id,
                actor.trace_id,
                actor.client,
                actor.correlation_id,
            )
        )
    with conn.cursor() as cursor:
        cursor.executemany(INSERT_AUDIT, rows)


def page(conn: Conn, query: AuditQuery) -> AuditPage:
    params = {
        "actor": query.actor,
        "action": query.action,
        "series_id": query.series_id,
        "correlation_id": query.correlation_id,
        "since": query.since,
        "until": query.until,
        "before": query.before,
        "limit": query.limit + 1,
    }
    rows = conn.execute(AUDIT_PAGE, params).fetchall()
    entries = [AuditRecord(**row) for row in rows[: query.limit]]
    more = len(rows) > query.limit
    return AuditPage(entries, entries[-1].id if more and entries else None)


def purge(conn: Conn, older_than_days: int) -> int:
    """Inside a transaction: the append-only trigger lets this one delete through."""
    conn.execute("SET LOCAL sigmawatch.audit_purge = 'on'")
    return conn.execute(PURGE, (older_than_days,)).rowcount
