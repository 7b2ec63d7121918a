"""Every SQL statement of the registry, and the row → record mapping.

Private to this package: nothing outside `sigmawatch.registry.postgres`
builds SQL. Values are always bound parameters; only the fixed fragments
below are joined.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sigmawatch.detectors import DetectorSpec
from sigmawatch.registry.records import SeriesRecord, VersionRecord
from sigmawatch.stats import stats_from_json

CHANNEL = "sigmawatch_models"
LOCK_PREFIX = "sigmawatch.series:"
# The refresh re-reads this much before its watermark: transactions that began
# before the last watermark but committed after it.
REFRESH_OVERLAP = "60 seconds"

VERSION_COLUMNS = """
    v.series_id, v.version, v.status, v.detector_kind, v.detector_params, v.spec_hash,
    v.data_hash, v.n_points, v.stats, v.training_start, v.training_end, v.artifact_prefix,
    v.manifest_sha256, v.training_ms, v.source, v.created_at, v.archived_at,
    (s.production_version IS NOT DISTINCT FROM v.version) AS is_production, v.state
"""
SELECT_VERSIONS = f"SELECT {VERSION_COLUMNS} FROM model_versions v JOIN series s USING (series_id)"
SERIES_COLUMNS = (
    "series_id, latest_version, production_version, usage_count, pointer_holder, keep_versions"
)

# -- series rows ---------------------------------------------------------------
ENSURE_SERIES = "INSERT INTO series (series_id) VALUES (%s) ON CONFLICT DO NOTHING"
SERIES = f"SELECT {SERIES_COLUMNS} FROM series WHERE series_id = %s"
# Every writer locks the series row before any version row of it: one lock
# order everywhere, so no two writers can deadlock.
LOCK_SERIES = SERIES + " FOR UPDATE"
TOUCH_SERIES = "UPDATE series SET updated_at = now() WHERE series_id = %s"
NOTIFY = "SELECT pg_notify(%s, %s)"

# -- versions ------------------------------------------------------------------
VERSION = SELECT_VERSIONS + " WHERE v.series_id = %s AND v.version = %s"
PRODUCTION = SELECT_VERSIONS + " WHERE v.series_id = %s AND v.version = s.production_version"
VERSIONS = SELECT_VERSIONS + " WHERE v.series_id = %s ORDER BY v.version"
BY_DATA = SELECT_VERSIONS + " WHERE v.series_id = %s AND v.data_hash = %s AND v.spec_hash = %s"
EXISTING_VERSION = (
    "SELECT version FROM model_versions WHERE series_id = %s AND data_hash = %s AND spec_hash = %s"
)
INSERT_VERSION = (
    "INSERT INTO model_versions (series_id, version, detector_kind, detector_params,"
    " spec_hash, data_hash, n_points, stats, training_start, training_end,"
    " artifact_prefix, manifest_sha256, training_ms, source, state, activated_at,"
    " drift_quantiles)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, clock_timestamp(),"
    " packed_quantiles(%s))"  # the statistics again (migration 0013)
)
ADVANCE_SERIES = (
    "UPDATE series SET latest_version = %(version)s, updated_at = now(),"
    " production_version = CASE WHEN %(promote)s THEN %(version)s ELSE production_version END,"
    " keep_versions = coalesce(%(keep)s, keep_versions)"
    " WHERE series_id = %(series_id)s"
)
MOST_USED = (
    SELECT_VERSIONS + " WHERE v.version = s.production_version"
    " ORDER BY s.usage_rank DESC NULLS LAST, s.series_id LIMIT %s"
)
# The production versions whose detector is a centre and a scale, most used first, in
# chunks (CentreScaleColumns): a serving process's resident table (resident.py). Each
# chunk's numbers come as one bytea a column, their binary send forms back to back, and
# its ids as one comma-joined text (ids never hold a comma): a million rows cost a few
# dozen Python objects, not eight million. Every number is computed from its version
# row before the joins and sorts (OFFSET 0 keeps `fitted` apart), so they carry ~100
# bytes a row, not the jsonb columns; the drift quantiles come packed (migration 0013);
# a jsonb number casts to float8 with the same bits as its text and in less time.
CENTRE_SCALE_STATES = """
    WITH k AS (
        SELECT * FROM unnest(%(kinds)s::text[], %(centres)s::text[], %(scales)s::text[])
            WITH ORDINALITY AS k(kind, centre, scale, position)
    ), fitted AS (
        SELECT v.series_id, v.version, (k.position - 1)::int4 AS kind,
               (v.detector_params -> 'threshold')::float8 AS threshold,
               (v.state -> k.centre)::float8 AS centre, (v.state -> k.scale)::float8 AS scale,
               v.training_start, v.training_end,
               coalesce(v.drift_quantiles, packed_quantiles(v.stats)) AS quantiles
        FROM model_versions v JOIN k ON k.kind = v.detector_kind
        WHERE v.is_production AND v.state ? k.centre AND v.state ? k.scale
          AND v.detector_params ? 'threshold' AND v.detector_params - 'threshold' = '{}'::jsonb
          AND (%(ids)s::text[] IS NULL OR v.series_id = ANY(%(ids)s::text[]))
        OFFSET 0
    ), picked AS (
        SELECT f.*, row_number() OVER (ORDER BY s.usage_rank DESC NULLS LAST, f.series_id) AS n
        FROM series s JOIN fitted f
          ON f.series_id = s.series_id AND f.version = s.production_version
    )
    SELECT string_agg(series_id, ',' ORDER BY n),
           string_agg(int4send(version), '' ORDER BY n), string_agg(int4send(kind), '' ORDER BY n),
           string_agg(float8send(threshold), '' ORDER BY n),
           string_agg(float8send(centre), '' ORDER BY n),
           string_agg(float8send(scale), '' ORDER BY n),
           string_agg(int8send(training_start), '' ORDER BY n),
           string_agg(int8send(training_end), '' ORDER BY n),
           string_agg(quantiles, '' ORDER BY n)
    FROM picked WHERE n <= %(limit)s GROUP BY (n - 1) / %(chunk)s ORDER BY (n - 1) / %(chunk)s
"""
# Every row, in no order: `groups` chunks by a hash of the id, each aggregated as it
# comes (a hash aggregate), so neither the window's sort nor the sort into chunks runs
# (the read of 1M models: 5 s -> 2.5 s). For a reader that keeps every row.
CENTRE_SCALE_STATES_ANY_ORDER = (
    CENTRE_SCALE_STATES[: CENTRE_SCALE_STATES.index("), picked AS")]
    + """)
    SELECT string_agg(f.series_id, ','),
           string_agg(int4send(f.version), ''), string_agg(int4send(f.kind), ''),
           string_agg(float8send(f.threshold), ''), string_agg(float8send(f.centre), ''),
           string_agg(float8send(f.scale), ''), string_agg(int8send(f.training_start), ''),
           string_agg(int8send(f.training_end), ''), string_agg(f.quantiles, '')
    FROM series s JOIN fitted f
      ON f.series_id = s.series_id AND f.version = s.production_version
    GROUP BY (hashtext(f.series_id)::int8 & 2147483647) %% %(groups)s
"""
)
# Its row estimate is ~0, so the planner would sort for the aggregate; and the default
# 4 MB spills the join's and the aggregate's hashes (~150 MB each at 1M) in 32 batches.
ANY_ORDER_PLAN: tuple[str, ...] = ("SET LOCAL enable_sort = off", "SET LOCAL work_mem = '64MB'")
SERVED_FOOTPRINT = (
    "SELECT count(*) AS n, coalesce(sum(char_length(series_id)), 0) AS chars FROM series"
    " WHERE production_version IS NOT NULL"
)
# The row estimate of the jsonb tests above is ~0, so without this the planner looks up
# each of a million series by index instead of one hash join (1.9 s against 2.4 s).
NO_NESTED_LOOPS = "SET LOCAL enable_nestloop = off"
# The whole fleet's read outlasts a request's 30 s statement timeout past a few million
# models (~15 s at 1M on a loaded 2-core machine); the TCP keepalives still bound it.
NO_STATEMENT_TIMEOUT = "SET LOCAL statement_timeout = 0"
COUNT_SERVED_IDS = (
    "SELECT count(*) AS n FROM series WHERE series_id = ANY(%s) AND production_version IS NOT NULL"
)
COUNT_SERVED_PREFIX = (
    "SELECT count(*) AS n FROM series"
    " WHERE starts_with(series_id, %s) AND production_version IS NOT NULL"
)

# -- the production pointer ------------------------------------------------------
MOVE_POINTER = (
    "UPDATE series SET production_version = %s, pointer_holder = %s, updated_at = now()"
    " WHERE series_id = %s"
)
# clock_timestamp(), not now(): taken under the series row lock, so recency follows the
# order in which writers held the lock, not the order their transactions began.
ACTIVATED = (
    "UPDATE model_versions SET activated_at = clock_timestamp()"
    " WHERE series_id = %s AND version = %s"
)

# -- retention -------------------------------------------------------------------
SET_KEEP = "UPDATE series SET keep_versions = %s WHERE series_id = %s"
# Rank active versions by when they last became useful (created, restored or
# made production), newest first; the ones past the series' keep are archived.
RETENTION = f"""
    SELECT {VERSION_COLUMNS} FROM (
        SELECT *, row_number() OVER (ORDER BY activated_at DESC, version DESC) AS recency
        FROM model_versions WHERE series_id = %(series_id)s AND status = 'active'
    ) v JOIN series s USING (series_id)
    WHERE v.recency > coalesce(s.keep_versions, %(default_keep)s)
      AND s.production_version IS DISTINCT FROM v.version
      AND NOT EXISTS (SELECT 1 FROM rollout_members m
                      WHERE m.active AND m.series_id = v.series_id
                        AND v.version IN (m.stable_version, m.candidate_version))
    ORDER BY v.version
"""
# Versions an active rollout serves: never archived while it runs.
IN_ACTIVE_ROLLOUT = """
    SELECT 1 FROM rollout_members WHERE active AND series_id = %s
      AND %s IN (stable_version, candidate_version)
"""
ARCHIVE = (
    "UPDATE model_versions SET status = 'archived', archived_at = now(), artifact_prefix = %s"
    " WHERE series_id = %s AND version = %s AND status = 'active'"
)
UNARCHIVE = (
    "UPDATE model_versions SET status = 'active', archived_at = NULL, artifact_prefix = %s,"
    " activated_at = clock_timestamp()"
    " WHERE series_id = %s AND version = %s AND status = 'archived' AND artifact_prefix = %s"
)
ADVISORY_LOCK = "SELECT pg_advisory_lock(hashtextextended(%s, 0))"

# -- usage and change tracking -------------------------------------------------------
# usage_rank gains each term by log-sum-exp (sigmawatch.usage_rank.added).
RECORD_USAGE = (
    "UPDATE series s SET usage_count = s.usage_count + u.n, last_used_at = now(),"
    " usage_rank = CASE WHEN s.usage_rank IS NULL THEN u.t"
    " ELSE greatest(s.usage_rank, u.t) + ln(1 + exp(-abs(s.usage_rank - u.t))) END"
    " FROM unnest(%s::text[], %s::bigint[], %s::float8[]) AS u(series_id, n, t)"
    " WHERE s.series_id = u.series_id"
)
NOW = "SELECT now() AS now"
CHANGED_SINCE = (
    "SELECT series_id, production_version, updated_at FROM series"
    " WHERE updated_at >= %s::timestamptz - %s::interval"
)

# -- training runs --------------------------------------------------------------------
RECORD_RESULT = (
    "INSERT INTO training_results"
    " (run_id, series_id, outcome, version, error_code, error_message, correlation_id)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (run_id, series_id) DO UPDATE SET outcome = excluded.outcome,"
    " version = excluded.version, error_code = excluded.error_code,"
    " error_message = excluded.error_message, correlation_id = excluded.correlation_id,"
    " finished_at = now()"
)
RUN_COUNTS = (
    "SELECT outcome, error_code AS code, count(*) AS n FROM training_results"
    " WHERE run_id = %s GROUP BY outcome, error_code"
)
RUN_EXAMPLE = (
    "SELECT series_id, error_message FROM training_results"
    " WHERE run_id = %s AND outcome = 'failed' AND error_code = %s ORDER BY series_id LIMIT 1"
)
PRUNE_RESULTS = "DELETE FROM training_results WHERE finished_at < now() - make_interval(days => %s)"


def version_from_row(row: Mapping[str, Any]) -> VersionRecord:
    return VersionRecord(
        series_id=row["series_id"],
        version=row["version"],
        status=row["status"],
        # jsonb hands integral numbers back as int: make them the floats they were.
        detector=DetectorSpec(
            row["detector_kind"], {k: float(v) for k, v in row["detector_params"].items()}
        ),
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
        state=_floats(row["state"]),
    )


def _floats(state: Mapping[str, Any] | None) -> dict[str, float] | None:
    return {k: float(v) for k, v in state.items()} if state is not None else None


def series_from_row(row: Mapping[str, Any]) -> SeriesRecord:
    return SeriesRecord(
        series_id=row["series_id"],
        latest_version=row["latest_version"],
        production_version=row["production_version"],
        usage_count=row["usage_count"],
        holder=row["pointer_holder"],
        keep_versions=row["keep_versions"],
    )
