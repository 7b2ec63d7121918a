"""SQL of `StateBackfill` (sigmawatch.registry.state_protocol)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from psycopg.types.json import Jsonb

from sigmawatch.registry.postgres import _sql
from sigmawatch.registry.postgres.connection import Conn, notify
from sigmawatch.registry.records import ACTIVE, VersionRecord

WITHOUT_STATE = (
    _sql.SELECT_VERSIONS + " WHERE v.state IS NULL AND v.status = %(active)s"
    " AND v.detector_kind = ANY(%(kinds)s)"
    " AND (%(series)s::text IS NULL OR (v.series_id, v.version) > (%(series)s, %(version)s))"
    " ORDER BY v.series_id, v.version LIMIT %(limit)s"
)
FILL = (
    "UPDATE model_versions SET state = %s WHERE series_id = %s AND version = %s AND state IS NULL"
)


def without_state(
    conn: Conn, kinds: Sequence[str], after: tuple[str, int] | None, limit: int
) -> list[VersionRecord]:
    series, version = after if after is not None else (None, 0)
    params = {
        "active": ACTIVE,
        "kinds": list(kinds),
        "series": series,
        "version": version,
        "limit": limit,
    }
    return [_sql.version_from_row(row) for row in conn.execute(WITHOUT_STATE, params)]


def fill(conn: Conn, series_id: str, version: int, state: Mapping[str, float]) -> bool:
    if conn.execute(FILL, (Jsonb(dict(state)), series_id, version)).rowcount == 0:
        return False
    # The bounded refresh reads series by updated_at, and the notice reaches the rest.
    conn.execute(_sql.TOUCH_SERIES, (series_id,))
    notify(conn, series_id, "state")
    return True
