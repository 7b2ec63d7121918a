"""Archiving and restoring versions (REG-6); the series row is locked first, as everywhere."""

from __future__ import annotations

from sigmawatch.registry import audit_entries
from sigmawatch.registry.postgres import _sql
from sigmawatch.registry.postgres.access import write_audit
from sigmawatch.registry.postgres.connection import Conn, notify
from sigmawatch.registry.records import VersionRecord


def candidates(conn: Conn, series_id: str, default_keep: int) -> list[VersionRecord]:
    rows = conn.execute(
        _sql.RETENTION, {"series_id": series_id, "default_keep": default_keep}
    ).fetchall()
    return [_sql.version_from_row(row) for row in rows]


def mark_archived(conn: Conn, series_id: str, version: int, archive_prefix: str) -> bool:
    series = conn.execute(_sql.LOCK_SERIES, (series_id,)).fetchone()
    if series is None or series["production_version"] == version:
        return False
    if conn.execute(_sql.IN_ACTIVE_ROLLOUT, (series_id, version)).fetchone():
        return False
    updated = conn.execute(_sql.ARCHIVE, (archive_prefix, series_id, version)).rowcount
    if updated:
        conn.execute(_sql.TOUCH_SERIES, (series_id,))
        write_audit(conn, audit_entries.archived(series_id, version))
        notify(conn, series_id, "archived")
    return bool(updated)


def mark_active(conn: Conn, series_id: str, version: int, prefix: str, archived_at: str) -> bool:
    if conn.execute(_sql.LOCK_SERIES, (series_id,)).fetchone() is None:
        return False
    updated = conn.execute(_sql.UNARCHIVE, (prefix, series_id, version, archived_at)).rowcount
    if updated:
        conn.execute(_sql.TOUCH_SERIES, (series_id,))
        write_audit(conn, audit_entries.restored(series_id, version))
        notify(conn, series_id, "restored")
    return bool(updated)
