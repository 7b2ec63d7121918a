"""Usage counts (warm-up ranking, MOD-7) and the periodic refresh's change reads."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from sigmawatch import usage_rank
from sigmawatch.registry.postgres import _sql
from sigmawatch.registry.postgres.connection import Conn
from sigmawatch.registry.records import PointerState


def record(conn: Conn, counts: Mapping[str, int], at: datetime | None = None) -> None:
    counted = {series_id: n for series_id, n in counts.items() if n > 0}
    if counted:
        when = (at or datetime.now(UTC)).timestamp()
        terms = [usage_rank.term(n, when) for n in counted.values()]
        conn.execute(_sql.RECORD_USAGE, (list(counted), list(counted.values()), terms))


def clock(conn: Conn) -> datetime:
    row = conn.execute(_sql.NOW).fetchone()
    assert row is not None
    now: datetime = row["now"]
    return now


def changed_since(conn: Conn, since: datetime) -> tuple[dict[str, PointerState], datetime]:
    """Inside a transaction, so the watermark and the rows are one snapshot."""
    now = clock(conn)
    rows = conn.execute(_sql.CHANGED_SINCE, (since, _sql.REFRESH_OVERLAP)).fetchall()
    changed = {
        row["series_id"]: PointerState(row["production_version"], row["updated_at"]) for row in rows
    }
    return changed, now
