"""The production pointer: moved and held under the series row lock (docs/decisions/0010)."""

from __future__ import annotations

from sigmawatch.registry import audit_entries
from sigmawatch.registry.errors import version_archived
from sigmawatch.registry.pointer import Writer, check_move
from sigmawatch.registry.postgres import _sql
from sigmawatch.registry.postgres.access import write_audit
from sigmawatch.registry.postgres.connection import Conn, notify
from sigmawatch.registry.postgres.versions import get, lock_series
from sigmawatch.registry.records import ACTIVE, PointerMove


def set_production(conn: Conn, series_id: str, version: int, by: Writer) -> PointerMove:
    """Inside a transaction. The series row is locked first, as by every writer; the
    version row is only read, since archiving and restoring lock the series row too."""
    series = lock_series(conn, series_id)
    check_move(series_id, series.holder, by)
    record = get(conn, series_id, version)
    if record.status != ACTIVE:
        raise version_archived(series_id, version)
    holder = by.holder if by.holds else series.holder
    if series.production_version == version and series.holder == holder:
        return PointerMove(record, series.production_version)  # nothing to change or announce
    conn.execute(_sql.MOVE_POINTER, (version, holder, series_id))
    if series.production_version != version:
        conn.execute(_sql.ACTIVATED, (series_id, version))
    write_audit(
        conn, audit_entries.pointer_moved(series_id, version, series.production_version, by)
    )
    notify(conn, series_id, "production")
    return PointerMove(get(conn, series_id, version), series.production_version)


def release(conn: Conn, series_id: str, by: Writer) -> bool:
    row = conn.execute(_sql.LOCK_SERIES, (series_id,)).fetchone()
    if row is None or row["pointer_holder"] != by.holder:
        return False
    conn.execute(_sql.MOVE_POINTER, (row["production_version"], None, series_id))
    write_audit(conn, audit_entries.released(series_id, by))
    notify(conn, series_id, "released")
    return True
