"""The model registry on PostgreSQL (REG-1..6, CONS-2, CONS-3).

Version numbers are allocated under a per-series row lock inside one
transaction, so concurrent trainings of a series get consecutive numbers
with no gap or duplicate, and the unique key on (series, data hash,
detector spec) turns a retrain with the same data into the existing
version. Every change of a version or production pointer sends a NOTIFY on
`CHANNEL` at commit; serving processes drop their cached copy on it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import orjson
import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from sigmawatch.detectors import DetectorSpec
from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.registry.records import (
    ACTIVE,
    ARCHIVED,
    NewVersion,
    SeriesRecord,
    VersionRecord,
)
from sigmawatch.registry.schema import migrate
from sigmawatch.stats import stats_from_json
from sigmawatch.validation import format_version

log = logging.getLogger(__name__)

CHANNEL = "sigmawatch_models"
LOCK_PREFIX = "sigmawatch.series:"
POOL_WAIT_S = 5.0
# Bounded waits everywhere, so a slow or unreachable database turns into
# errors within seconds instead of requests that pile up.
CONNECTION_LIMITS: dict[str, Any] = {
    "connect_timeout": 5,
    "options": "-c statement_timeout=30000 -c lock_timeout=10000",
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}
REFRESH_OVERLAP = "60 seconds"

VERSION_COLUMNS = """
    v.series_id, v.version, v.status, v.detector_kind, v.detector_params, v.spec_hash,
    v.data_hash, v.n_points, v.stats, v.training_start, v.training_end, v.artifact_prefix,
    v.manifest_sha256, v.training_ms, v.source, v.created_at, v.archived_at,
    (s.production_version IS NOT DISTINCT FROM v.version) AS is_production
"""
VERSION_FROM = "model_versions v JOIN series s USING (series_id)"


def version_from_row(row: Mapping[str, Any]) -> VersionRecord:
    return VersionRecord(
        series_id=row["series_id"],
        version=row["version"],
        status=row["status"],
        # jsonb hands integral numbers back as int: make them the floats they were.
        detector=DetectorSpec(row["detector_kind"], _floats(row["detector_params"])),
        spec_hash=row["spec_hash"],
        data_hash=row["data_hash"],
        n_points=row["n_points"],
        stats=stats_from_json(row["stats"]),
        training_start=row["training_start"],
        training_end=row["training_end"],
        artifact_prefix=row["artifact_prefix"],
        manifest_sha256=row["manifest_sha256"],
        training_ms=row["training_ms"],
        source=row["source"],
        created_at=row["created_at"],
        archived_at=row["archived_at"],
        is_production=row["is_production"],
    )


def _floats(values: Mapping[str, Any]) -> dict[str, float]:
    return {name: float(value) for name, value in values.items()}


def model_not_found(series_id: str) -> SigmawatchError:
    return SigmawatchError(
        ErrorCode.MODEL_NOT_FOUND,
        f"series {series_id!r} has no trained model",
        series_id=series_id,
        hint=f"POST /v1/series/{series_id}/train first",
    )


def version_not_found(series_id: str, version: int) -> SigmawatchError:
    return SigmawatchError(
        ErrorCode.INVALID_VERSION,
        f"series {series_id!r} has no version {format_version(version)}",
        series_id=series_id,
        version=format_version(version),
        hint=f"GET /v1/series/{series_id}/versions lists the versions",
    )


def version_archived(series_id: str, version: int) -> SigmawatchError:
    name = format_version(version)
    return SigmawatchError(
        ErrorCode.VERSION_ARCHIVED,
        f"version {name} of {series_id!r} is archived; restore it to use it",
        series_id=series_id,
        version=name,
        hint=f"POST /v1/series/{series_id}/versions/{name}/restore",
    )


def _notify(conn: psycopg.Connection[Any], series_id: str, event: str) -> None:
    payload = orjson.dumps({"series_id": series_id, "event": event}).decode()
    conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))


class Registry:
    """Registry operations over a psycopg connection pool."""

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 8) -> None:
        self.url = url
        self.pool: ConnectionPool[psycopg.Connection[dict[str, Any]]] = ConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            kwargs={"row_factory": dict_row, "autocommit": True, **CONNECTION_LIMITS},
            open=False,
            name="sigmawatch-registry",
            # A request waits this long for a connection, then gets a clear 503.
            timeout=POOL_WAIT_S,
        )

    def open(self, *, timeout: float = 30.0) -> None:
        self.pool.open(wait=True, timeout=timeout)

    def close(self) -> None:
        self.pool.close()

    def migrate(self) -> list[int]:
        with self.pool.connection() as conn:
            return migrate(conn)

    def ping(self) -> None:
        with self.pool.connection(timeout=2.0) as conn:
            conn.execute("SELECT 1")

    # -- writes -----------------------------------------------------------

    def register(self, new: NewVersion, *, promote: bool) -> tuple[VersionRecord, bool]:
        """Register a version, or find the one with the same data and spec.

        Returns the record and whether it was created now.
        """
        spec_hash = new.detector.spec_hash
        with self.pool.connection() as conn, conn.transaction():
            conn.execute(
                "INSERT INTO series (series_id) VALUES (%s) ON CONFLICT DO NOTHING",
                (new.series_id,),
            )
            series = conn.execute(
                "SELECT latest_version FROM series WHERE series_id = %s FOR UPDATE",
                (new.series_id,),
            ).fetchone()
            assert series is not None
            existing = conn.execute(
                "SELECT version FROM model_versions"
                " WHERE series_id = %s AND data_hash = %s AND spec_hash = %s",
                (new.series_id, new.data_hash, spec_hash),
            ).fetchone()
            if existing is not None:
                return self._get(conn, new.series_id, existing["version"]), False
            version = series["latest_version"] + 1
            conn.execute(
                "INSERT INTO model_versions (series_id, version, detector_kind, detector_params,"
                " spec_hash, data_hash, n_points, stats, training_start, training_end,"
                " artifact_prefix, manifest_sha256, training_ms, source)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    new.series_id,
                    version,
                    new.detector.kind,
                    Jsonb(new.detector.params),
                    spec_hash,
                    new.data_hash,
                    new.n_points,
                    Jsonb(new.stats),
                    new.training_start,
                    new.training_end,
                    new.artifact_prefix,
                    new.manifest_sha256,
                    new.training_ms,
                    new.source,
                ),
            )
            conn.execute(
                "UPDATE series SET latest_version = %s, updated_at = now(),"
                " production_version = CASE WHEN %s OR production_version IS NULL"
                " THEN %s ELSE production_version END"
                " WHERE series_id = %s",
                (version, promote, version, new.series_id),
            )
            _notify(conn, new.series_id, "version")
            return self._get(conn, new.series_id, version), True

    def set_production(self, series_id: str, version: int) -> VersionRecord:
        """Point production at `version` (REG-4 rollback, or roll forward)."""
        with self.pool.connection() as conn, conn.transaction():
            record = self._get(conn, series_id, version, lock=True)
            if record.status != ACTIVE:
                raise version_archived(series_id, version)
            conn.execute(
                "UPDATE series SET production_version = %s, updated_at = now()"
                " WHERE series_id = %s",
                (version, series_id),
            )
            _notify(conn, series_id, "production")
            return self._get(conn, series_id, version)

    def mark_archived(self, series_id: str, version: int, archive_prefix: str) -> bool:
        """Archive an active, non-production version; False if that no longer holds."""
        with self.pool.connection() as conn, conn.transaction():
            # The series row lock orders this against a concurrent set_production.
            series = conn.execute(
                "SELECT production_version FROM series WHERE series_id = %s FOR UPDATE",
                (series_id,),
            ).fetchone()
            if series is None or series["production_version"] == version:
                return False
            updated = conn.execute(
                "UPDATE model_versions SET status = %s, archived_at = now(), artifact_prefix = %s"
                " WHERE series_id = %s AND version = %s AND status = %s",
                (ARCHIVED, archive_prefix, series_id, version, ACTIVE),
            ).rowcount
            if updated:
                conn.execute(
                    "UPDATE series SET updated_at = now() WHERE series_id = %s", (series_id,)
                )
                _notify(conn, series_id, "archived")
            return bool(updated)

    def mark_active(self, series_id: str, version: int, prefix: str, *, archived_at: str) -> bool:
        """Un-archive a version whose artifact now lives at `prefix`; False if it is not
        archived under `archived_at` any more."""
        with self.pool.connection() as conn, conn.transaction():
            updated = conn.execute(
                "UPDATE model_versions SET status = %s, archived_at = NULL, artifact_prefix = %s"
                " WHERE series_id = %s AND version = %s AND status = %s AND artifact_prefix = %s",
                (ACTIVE, prefix, series_id, version, ARCHIVED, archived_at),
            ).rowcount
            if updated:
                conn.execute(
                    "UPDATE series SET updated_at = now() WHERE series_id = %s", (series_id,)
                )
                _notify(conn, series_id, "restored")
            return bool(updated)

    @contextmanager
    def series_lock(self, series_id: str) -> Iterator[None]:
        """Serialise artifact moves (archive, restore) of one series across processes.

        A session advisory lock on a connection of its own: holding a pooled
        connection while the locked work takes others could exhaust the pool.
        """
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_advisory_lock(hashtextextended(%s, 0))", (LOCK_PREFIX + series_id,)
            )
            yield  # closing the connection releases the lock

    def record_usage(self, counts: Mapping[str, int]) -> None:
        """Add prediction counts per series (warm-up ranks by them, MOD-7)."""
        if not counts:
            return
        with self.pool.connection() as conn:
            conn.execute(
                "UPDATE series s SET usage_count = s.usage_count + u.n, last_used_at = now()"
                " FROM unnest(%s::text[], %s::bigint[]) AS u(series_id, n)"
                " WHERE s.series_id = u.series_id",
                (list(counts), list(counts.values())),
            )

    # -- reads ------------------------------------------------------------

    def _get(
        self, conn: psycopg.Connection[Any], series_id: str, version: int, *, lock: bool = False
    ) -> VersionRecord:
        row = conn.execute(
            f"SELECT {VERSION_COLUMNS} FROM {VERSION_FROM}"
            " WHERE v.series_id = %s AND v.version = %s" + (" FOR UPDATE OF v" if lock else ""),
            (series_id, version),
        ).fetchone()
        if row is None:
            if self._series(conn, series_id) is None:
                raise model_not_found(series_id)
            raise version_not_found(series_id, version)
        return version_from_row(row)

    @staticmethod
    def _series(conn: psycopg.Connection[Any], series_id: str) -> SeriesRecord | None:
        row = conn.execute(
            "SELECT series_id, latest_version, production_version, usage_count"
            " FROM series WHERE series_id = %s",
            (series_id,),
        ).fetchone()
        return SeriesRecord(**row) if row else None

    def get_version(self, series_id: str, version: int) -> VersionRecord:
        with self.pool.connection() as conn:
            return self._get(conn, series_id, version)

    def get_production(self, series_id: str) -> VersionRecord:
        """The version production traffic uses; MODEL_NOT_FOUND if there is none."""
        with self.pool.connection() as conn:
            row = conn.execute(
                f"SELECT {VERSION_COLUMNS} FROM {VERSION_FROM}"
                " WHERE v.series_id = %s AND v.version = s.production_version",
                (series_id,),
            ).fetchone()
        if row is None:
            raise model_not_found(series_id)
        return version_from_row(row)

    def get_series(self, series_id: str) -> SeriesRecord | None:
        with self.pool.connection() as conn:
            return self._series(conn, series_id)

    def list_versions(self, series_id: str) -> list[VersionRecord]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {VERSION_COLUMNS} FROM {VERSION_FROM}"
                " WHERE v.series_id = %s ORDER BY v.version",
                (series_id,),
            ).fetchall()
        if not rows:
            raise model_not_found(series_id)
        return [version_from_row(row) for row in rows]

    def find_by_data(self, series_id: str, data_hash: str, spec_hash: str) -> VersionRecord | None:
        with self.pool.connection() as conn:
            row = conn.execute(
                f"SELECT {VERSION_COLUMNS} FROM {VERSION_FROM}"
                " WHERE v.series_id = %s AND v.data_hash = %s AND v.spec_hash = %s",
                (series_id, data_hash, spec_hash),
            ).fetchone()
        return version_from_row(row) if row else None

    def retention_candidates(self, series_id: str, keep: int) -> list[VersionRecord]:
        """Active versions beyond the newest `keep`, never the production one (REG-6)."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {VERSION_COLUMNS} FROM {VERSION_FROM}"
                " WHERE v.series_id = %s AND v.status = %s"
                " AND v.version <= s.latest_version - %s"
                " AND s.production_version IS DISTINCT FROM v.version"
                " ORDER BY v.version",
                (series_id, ACTIVE, keep),
            ).fetchall()
        return [version_from_row(row) for row in rows]

    def most_used(self, limit: int) -> list[VersionRecord]:
        """Production versions of the most-used series, for warm-up (MOD-7)."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {VERSION_COLUMNS} FROM {VERSION_FROM}"
                " WHERE v.version = s.production_version"
                " ORDER BY s.usage_count DESC, s.series_id LIMIT %s",
                (limit,),
            ).fetchall()
        return [version_from_row(row) for row in rows]

    def clock(self) -> datetime:
        """The database's current time: the watermark for `changed_since`."""
        with self.pool.connection() as conn:
            row = conn.execute("SELECT now() AS now").fetchone()
        assert row is not None
        now: datetime = row["now"]
        return now

    def changed_since(
        self, since: datetime
    ) -> tuple[dict[str, tuple[int | None, datetime]], datetime]:
        """Series changed after `since` → (production version, updated_at); new watermark."""
        with self.pool.connection() as conn, conn.transaction():
            now = conn.execute("SELECT now() AS now").fetchone()
            assert now is not None
            rows = conn.execute(
                "SELECT series_id, production_version, updated_at FROM series"
                # The margin covers transactions that began before the last
                # watermark but committed after it; re-reading a row is harmless.
                " WHERE updated_at >= %s::timestamptz - %s::interval",
                (since, REFRESH_OVERLAP),
            ).fetchall()
        changed = {r["series_id"]: (r["production_version"], r["updated_at"]) for r in rows}
        return changed, now["now"]

    def count_trained_series(self) -> int:
        return self.count_served(prefix="")

    def count_served(self, *, ids: list[str] | None = None, prefix: str | None = None) -> int:
        """How many of these series (an id list, or an id prefix) have a production version."""
        with self.pool.connection() as conn:
            if ids is not None:
                row = conn.execute(
                    "SELECT count(*) AS n FROM series WHERE series_id = ANY(%s)"
                    " AND production_version IS NOT NULL",
                    (ids,),
                ).fetchone()
            else:
                row = conn.execute(
                    "SELECT count(*) AS n FROM series WHERE starts_with(series_id, %s)"
                    " AND production_version IS NOT NULL",
                    (prefix or "",),
                ).fetchone()
        return int(row["n"]) if row else 0
