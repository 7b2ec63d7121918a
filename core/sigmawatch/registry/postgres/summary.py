"""SQL of `SharedSummary` (sigmawatch.registry.health_protocol)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from psycopg.types.json import Jsonb

from sigmawatch.registry.health_protocol import SharedCounts
from sigmawatch.registry.health_records import HealthQuery
from sigmawatch.registry.postgres import health
from sigmawatch.registry.postgres.connection import Conn

NAME = "ml_health"
STORED = "SELECT computed_at, counts FROM shared_summary WHERE name = %s"
FRESH = STORED + " AND computed_at > now() - make_interval(secs => %s)"
# Held to the end of the transaction: one process computes, the rest do not wait.
TRY_LOCK = "SELECT pg_try_advisory_xact_lock(hashtextextended('sigmawatch.summary:' || %s, 0))"
STORE = (
    "INSERT INTO shared_summary (name, computed_at, counts) VALUES (%s, now(), %s)"
    " ON CONFLICT (name) DO UPDATE SET computed_at = excluded.computed_at,"
    " counts = excluded.counts RETURNING computed_at, counts"
)


def _counts(row: Mapping[str, Any] | None) -> SharedCounts | None:
    if row is None:
        return None
    counts = row["counts"]
    return SharedCounts(int(counts["anomalous"]), int(counts["drifting"]), row["computed_at"])


def shared_counts(
    conn: Conn, rates: HealthQuery, drift: HealthQuery, max_age_s: float
) -> SharedCounts | None:
    """In one transaction of `conn`."""
    fresh = _counts(conn.execute(FRESH, (NAME, max_age_s)).fetchone())
    if fresh is not None:
        return fresh
    locked = conn.execute(TRY_LOCK, (NAME,)).fetchone()
    if locked is None or not next(iter(locked.values())):
        return _counts(conn.execute(STORED, (NAME,)).fetchone())  # another is computing
    # A process that finished while this one waited for its row has just stored them.
    fresh = _counts(conn.execute(FRESH, (NAME, max_age_s)).fetchone())
    if fresh is not None:
        return fresh
    anomalous, drifting = health.count_over(conn, rates, drift)
    stored = conn.execute(STORE, (NAME, Jsonb({"anomalous": anomalous, "drifting": drifting})))
    return _counts(stored.fetchone())
