"""Versions: allocation under the series row lock (CONS-2, CONS-3) and reads."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb

from sigmawatch.drift import N_EDGES
from sigmawatch.registry import audit_entries
from sigmawatch.registry.errors import model_not_found, version_not_found
from sigmawatch.registry.pointer import may_promote
from sigmawatch.registry.postgres import _sql
from sigmawatch.registry.postgres.access import write_audit
from sigmawatch.registry.postgres.connection import Conn, notify
from sigmawatch.registry.records import (
    CentreScaleColumns,
    NewVersion,
    Registration,
    SeriesRecord,
    VersionRecord,
)


def register(conn: Conn, new: NewVersion, *, promote: bool) -> Registration:
    """Inside a transaction: the new version, or the one with the same data and spec."""
    conn.execute(_sql.ENSURE_SERIES, (new.series_id,))
    series = lock_series(conn, new.series_id)
    existing = conn.execute(
        _sql.EXISTING_VERSION, (new.series_id, new.data_hash, new.detector.spec_hash)
    ).fetchone()
    if existing is not None:
        # Its "existing" entry is the caller's: train_series writes it on this path too.
        return Registration(get(conn, new.series_id, existing["version"]), False)
    version = series.latest_version + 1
    free = may_promote(series.holder)
    moves = series.production_version is None or (promote and free)
    conn.execute(
        _sql.INSERT_VERSION,
        (
            new.series_id,
            version,
            new.detector.kind,
            Jsonb(new.detector.params),
            new.detector.spec_hash,
            new.data_hash,
            new.n_points,
            Jsonb(new.stats),
            new.training_start,
            new.training_end,
            new.artifact_prefix,
            new.manifest_sha256,
            new.training_ms,
            new.source,
            Jsonb(new.state) if new.state is not None else None,
            Jsonb(new.stats),  # packed into drift_quantiles by the statement
        ),
    )
    conn.execute(
        _sql.ADVANCE_SERIES,
        {
            "version": version,
            "promote": moves,
            "keep": new.keep_versions,
            "series_id": new.series_id,
        },
    )
    notify(conn, new.series_id, "version")
    held_by = series.holder if promote and not moves else None
    write_audit(
        conn,
        audit_entries.trained(
            new.series_id, version, created=True, promoted=moves, held_by=held_by
        ),
    )
    return Registration(get(conn, new.series_id, version), True, held_by)


def lock_series(conn: Conn, series_id: str) -> SeriesRecord:
    """The series row, locked until the transaction ends; MODEL_NOT_FOUND if none."""
    row = conn.execute(_sql.LOCK_SERIES, (series_id,)).fetchone()
    if row is None:
        raise model_not_found(series_id)
    return _sql.series_from_row(row)


def get(conn: Conn, series_id: str, version: int) -> VersionRecord:
    row = conn.execute(_sql.VERSION, (series_id, version)).fetchone()
    if row is None:
        if series(conn, series_id) is None:
            raise model_not_found(series_id)
        raise version_not_found(series_id, version)
    return _sql.version_from_row(row)


def series(conn: Conn, series_id: str) -> SeriesRecord | None:
    row = conn.execute(_sql.SERIES, (series_id,)).fetchone()
    return _sql.series_from_row(row) if row else None


def production(conn: Conn, series_id: str) -> VersionRecord:
    row = conn.execute(_sql.PRODUCTION, (series_id,)).fetchone()
    if row is None:
        raise model_not_found(series_id)
    return _sql.version_from_row(row)


def listing(conn: Conn, series_id: str) -> list[VersionRecord]:
    rows = conn.execute(_sql.VERSIONS, (series_id,)).fetchall()
    if not rows:
        raise model_not_found(series_id)
    return [_sql.version_from_row(row) for row in rows]


def by_data(conn: Conn, series_id: str, data_hash: str, spec_hash: str) -> VersionRecord | None:
    row = conn.execute(_sql.BY_DATA, (series_id, data_hash, spec_hash)).fetchone()
    return _sql.version_from_row(row) if row else None


def most_used(conn: Conn, limit: int) -> list[VersionRecord]:
    return [_sql.version_from_row(row) for row in conn.execute(_sql.MOST_USED, (limit,))]


def centre_scale_states(
    conn: Conn,
    kinds: Sequence[tuple[str, str, str]],
    limit: int,
    series_ids: Sequence[str] | None,
    chunk: int,
    ordered: bool = True,
) -> Iterator[CentreScaleColumns]:
    """One chunk a row as PostgreSQL sends them: never the whole fleet at once."""
    names = [list(column) for column in zip(*kinds, strict=True)] if kinds else [[], [], []]
    params = {
        "kinds": names[0],
        "centres": names[1],
        "scales": names[2],
        "ids": list(series_ids) if series_ids is not None else None,
        "limit": limit,
        "chunk": chunk,
        "groups": max(1, -(-limit // chunk)),
    }
    with conn.transaction():
        conn.execute(_sql.NO_NESTED_LOOPS)
        if series_ids is None:
            conn.execute(_sql.NO_STATEMENT_TIMEOUT)
        if not ordered:
            for setting in _sql.ANY_ORDER_PLAN:
                conn.execute(setting)
        query = _sql.CENTRE_SCALE_STATES if ordered else _sql.CENTRE_SCALE_STATES_ANY_ORDER
        # Streamed a row at a time (libpq's single-row mode), not through a named cursor:
        # PostgreSQL plans a cursor's query without parallel workers (4.1 s -> 2.6 s).
        with conn.cursor(row_factory=tuple_row) as cursor:
            for ids, *numbers, quantiles in cursor.stream(query, params, binary=True):
                v, k, t, c, s, start, end = (
                    np.frombuffer(b, dtype) for b, dtype in zip(numbers, _SENT, strict=True)
                )
                edges = np.frombuffer(quantiles, ">f8").reshape(-1, N_EDGES)
                yield CentreScaleColumns(ids.split(","), v, k, t, c, s, start, end, edges)


# The big-endian send forms of CENTRE_SCALE_STATES' columns after the ids.
_SENT = (">i4", ">i4", ">f8", ">f8", ">f8", ">i8", ">i8")


def served_footprint(conn: Conn) -> tuple[int, int]:
    row = conn.execute(_sql.SERVED_FOOTPRINT).fetchone()
    return (int(row["n"]), int(row["chars"])) if row else (0, 0)


def count_served(conn: Conn, *, ids: list[str] | None, prefix: str | None) -> int:
    if ids is not None:
        row = conn.execute(_sql.COUNT_SERVED_IDS, (ids,)).fetchone()
    else:
        row = conn.execute(_sql.COUNT_SERVED_PREFIX, (prefix or "",)).fetchone()
    return int(row["n"]) if row else 0
