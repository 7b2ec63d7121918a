"""Per-(series, version) statistics and ground-truth labels."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np

from sigmawatch.arrays import BoolArray, FloatArray, IntArray
from sigmawatch.registry import audit_entries
from sigmawatch.registry.postgres import _rollout_sql as sql
from sigmawatch.registry.postgres.access import write_audit
from sigmawatch.registry.postgres.connection import Conn
from sigmawatch.registry.rollout_records import Feedback, StatsRow, TrackRow
from sigmawatch.rollouts.window import VersionWindow

FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


def record(conn: Conn, rows: Sequence[StatsRow]) -> None:
    if not rows:
        return
    with conn.cursor() as cursor:
        cursor.executemany(
            sql.RECORD_STATS,
            [
                (
                    r.series_id,
                    r.version,
                    r.bucket,
                    r.ends,
                    r.predictions,
                    r.anomalies,
                    r.errors,
                    r.fallbacks,
                    list(r.latency),
                    r.shadow_compared,
                    r.shadow_agreed,
                )
                for r in sorted(rows, key=lambda r: (r.series_id, r.version, r.bucket))
            ],
        )


def version_window(
    conn: Conn, series_id: str, version: int, since: datetime, until: datetime | None
) -> VersionWindow:
    row = conn.execute(
        sql.VERSION_WINDOW, (series_id, version, since, until or FAR_FUTURE)
    ).fetchone()
    assert row is not None
    return sql.window_from_row(row)


def rollout_window(conn: Conn, rollout_id: int, side: str, since: datetime) -> VersionWindow:
    row = conn.execute(
        sql.ROLLOUT_WINDOW, {"rollout_id": rollout_id, "side": side, "since": since}
    ).fetchone()
    assert row is not None
    return sql.window_from_row(row)


def record_feedback(
    conn: Conn, series_id: str, timestamps: IntArray, values: FloatArray, labels: BoolArray
) -> int:
    rows = conn.execute(
        sql.RECORD_FEEDBACK,
        (series_id, timestamps.tolist(), values.tolist(), labels.tolist()),
    ).fetchall()
    replaced = sum(1 for r in rows if r["replaced"])
    write_audit(conn, audit_entries.labels_stored(series_id, len(labels), replaced))
    return replaced


def feedback(conn: Conn, series_ids: Sequence[str], since: datetime | None) -> dict[str, Feedback]:
    found: dict[str, tuple[list[int], list[float], list[bool]]] = {}
    for row in conn.execute(sql.FEEDBACK, (list(series_ids), since, since)):
        ts, values, labels = found.setdefault(row["series_id"], ([], [], []))
        ts.append(row["ts"])
        values.append(row["value"])
        labels.append(row["label"])
    return {
        series_id: Feedback(
            np.asarray(ts, dtype=np.int64),
            np.asarray(values, dtype=np.float64),
            np.asarray(labels, dtype=np.bool_),
        )
        for series_id, (ts, values, labels) in found.items()
    }


def record_tracks(conn: Conn, rows: Sequence[TrackRow]) -> None:
    if not rows:
        return
    with conn.cursor() as cursor:
        cursor.executemany(
            sql.RECORD_TRACK_STATS,
            [
                (r.track, r.bucket, r.bucket_end, r.requests, r.errors, list(r.latency))
                for r in sorted(rows, key=lambda r: (r.track, r.bucket))
            ],
        )


def track_window(conn: Conn, track: str, since: datetime) -> VersionWindow:
    row = conn.execute(sql.TRACK_WINDOW, (track, since)).fetchone()
    assert row is not None
    return sql.window_from_row(row)


def prune(conn: Conn, older_than_days: int) -> int:
    pruned = conn.execute(sql.PRUNE_STATS, (older_than_days,)).rowcount
    return pruned + conn.execute(sql.PRUNE_TRACK_STATS, (older_than_days,)).rowcount
