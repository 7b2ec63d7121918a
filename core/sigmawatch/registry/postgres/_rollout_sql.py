"""The SQL of rollouts, statistics and labels, and their row → record mapping.

Private to this package, like `_sql.py`; values are always bound parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sigmawatch.registry.rollout_records import Driver, IstioRoute, RolloutRecord
from sigmawatch.rollouts.policy import Phase, RolloutState
from sigmawatch.rollouts.spec import parse_rollout_spec
from sigmawatch.rollouts.window import N_LATENCY, VersionWindow

ROLLOUT_COLUMNS = """
    r.rollout_id, r.spec, r.driver, r.driver_ref, r.fleet, r.istio, r.phase, r.step, r.weight,
    r.failures, r.revision, r.reason, r.last_analysis, r.members, r.started_at,
    r.step_started_at, r.created_at, r.updated_at, r.finished_at, r.correlation_id,
    one.series_id, one.stable_version, one.candidate_version
"""
# A one-series rollout shows its versions; a fleet's member list stays in its table.
SELECT_ROLLOUTS = f"""
    SELECT {ROLLOUT_COLUMNS} FROM rollouts r
    LEFT JOIN LATERAL (
        SELECT m.series_id, m.stable_version, m.candidate_version FROM rollout_members m
        WHERE m.rollout_id = r.rollout_id AND NOT r.fleet LIMIT 1
    ) one ON true
"""
ROLLOUT = SELECT_ROLLOUTS + " WHERE r.rollout_id = %s"
ACTIVE_ROLLOUTS = SELECT_ROLLOUTS + " WHERE r.finished_at IS NULL ORDER BY r.rollout_id"
SERIES_ROLLOUT = (
    SELECT_ROLLOUTS + " WHERE r.rollout_id = (SELECT m.rollout_id FROM rollout_members m"
    " WHERE m.series_id = %s ORDER BY m.active DESC, m.rollout_id DESC LIMIT 1)"
)
DRIVEN_ROLLOUT = SELECT_ROLLOUTS + " WHERE r.driver_ref = %s ORDER BY r.rollout_id DESC LIMIT 1"

INSERT_ROLLOUT = """
    INSERT INTO rollouts (strategy, spec, driver, driver_ref, fleet, istio, phase, step, weight,
                          members, started_at, step_started_at, reason, correlation_id)
    VALUES (%(strategy)s, %(spec)s, %(driver)s, %(driver_ref)s, %(fleet)s, %(istio)s, %(phase)s,
            %(step)s, %(weight)s, %(members)s, %(started_at)s, %(step_started_at)s, %(reason)s,
            %(correlation_id)s)
    RETURNING rollout_id
"""
INSERT_MEMBERS = """
    INSERT INTO rollout_members (rollout_id, series_id, stable_version, candidate_version)
    SELECT %s, m.series_id, m.stable, m.candidate
    FROM unnest(%s::text[], %s::int[], %s::int[]) AS m(series_id, stable, candidate)
"""
# Every member's series row, locked in one order (by id): no two rollouts deadlock.
LOCK_MEMBER_SERIES = """
    SELECT series_id, production_version, pointer_holder FROM series
    WHERE series_id = ANY(%s) ORDER BY series_id FOR UPDATE
"""
HOLD_MEMBERS = "UPDATE series SET pointer_holder = %s, updated_at = now() WHERE series_id = ANY(%s)"
UPDATE_ROLLOUT = """
    UPDATE rollouts SET phase = %(phase)s, step = %(step)s, weight = %(weight)s,
        failures = %(failures)s, step_started_at = %(step_started_at)s, reason = %(reason)s,
        last_analysis = coalesce(%(analysis)s, last_analysis), revision = revision + 1,
        updated_at = now(), finished_at = CASE WHEN %(finished)s THEN now() END
    WHERE rollout_id = %(rollout_id)s AND revision = %(revision)s AND finished_at IS NULL
    RETURNING rollout_id
"""
INSERT_TRANSITION = (
    "INSERT INTO rollout_transitions (rollout_id, phase, step, weight, reason)"
    " VALUES (%s, %s, %s, %s, %s)"
)
TRANSITIONS = (
    "SELECT at, phase, step, weight, reason FROM rollout_transitions"
    " WHERE rollout_id = %s ORDER BY at"
)
MEMBERS = (
    "SELECT series_id, stable_version, candidate_version FROM rollout_members"
    " WHERE rollout_id = %s ORDER BY series_id"
)
LOCK_ROLLOUT_SERIES = """
    SELECT s.series_id FROM series s JOIN rollout_members m USING (series_id)
    WHERE m.rollout_id = %s ORDER BY s.series_id FOR UPDATE OF s
"""
# Promotion: every member's production moves to its candidate, and is released.
PROMOTE_MEMBERS = """
    UPDATE series s SET production_version = m.candidate_version, pointer_holder = NULL,
        updated_at = now()
    FROM rollout_members m
    WHERE m.rollout_id = %(rollout_id)s AND s.series_id = m.series_id
      AND s.pointer_holder = %(holder)s
"""
ACTIVATE_CANDIDATES = """
    UPDATE model_versions v SET activated_at = clock_timestamp()
    FROM rollout_members m
    WHERE m.rollout_id = %s AND v.series_id = m.series_id AND v.version = m.candidate_version
"""
RELEASE_MEMBERS = """
    UPDATE series s SET pointer_holder = NULL, updated_at = now()
    FROM rollout_members m
    WHERE m.rollout_id = %(rollout_id)s AND s.series_id = m.series_id
      AND s.pointer_holder = %(holder)s
"""
DEACTIVATE_MEMBERS = "UPDATE rollout_members SET active = false WHERE rollout_id = %s"
ROUTES = """
    SELECT r.rollout_id, r.revision, r.strategy, r.weight, r.fleet,
           m.series_id, m.stable_version, m.candidate_version
    FROM rollouts r JOIN rollout_members m USING (rollout_id)
    WHERE r.finished_at IS NULL AND m.active
"""
ROUTE_REVISIONS = "SELECT rollout_id, revision FROM rollouts WHERE finished_at IS NULL"

# -- membership --------------------------------------------------------------------------
_MEMBER_SERIES = """
    SELECT s.series_id, s.production_version FROM series s
    WHERE s.production_version IS NOT NULL
      AND (%(ids)s::text[] IS NULL OR s.series_id = ANY(%(ids)s))
      AND (%(prefix)s::text IS NULL OR starts_with(s.series_id, %(prefix)s))
"""
MEMBERS_BY_VERSION = f"""
    SELECT c.series_id, c.production_version AS stable, %(candidate)s AS candidate
    FROM ({_MEMBER_SERIES}) c JOIN model_versions v
      ON v.series_id = c.series_id AND v.version = %(candidate)s AND v.status = 'active'
    WHERE c.production_version <> %(candidate)s ORDER BY c.series_id
"""
MEMBERS_BY_RUN = f"""
    SELECT c.series_id, c.production_version AS stable, t.version AS candidate
    FROM ({_MEMBER_SERIES}) c JOIN training_results t
      ON t.series_id = c.series_id AND t.run_id = %(run_id)s AND t.version IS NOT NULL
    JOIN model_versions v ON v.series_id = c.series_id AND v.version = t.version
      AND v.status = 'active'
    WHERE c.production_version <> t.version ORDER BY c.series_id
"""
MEMBERS_BY_SPEC = f"""
    SELECT c.series_id, c.production_version AS stable, newest.version AS candidate
    FROM ({_MEMBER_SERIES}) c JOIN LATERAL (
        SELECT v.version FROM model_versions v
        WHERE v.series_id = c.series_id AND v.spec_hash = %(spec_hash)s AND v.status = 'active'
        ORDER BY v.version DESC LIMIT 1
    ) newest ON true
    WHERE c.production_version <> newest.version ORDER BY c.series_id
"""

# -- statistics ----------------------------------------------------------------------------
RECORD_STATS = """
    INSERT INTO version_stats AS s (series_id, version, bucket, bucket_end, predictions,
                                    anomalies, errors, fallbacks, latency, shadow_compared,
                                    shadow_agreed)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (series_id, version, bucket) DO UPDATE SET
        predictions = s.predictions + excluded.predictions,
        anomalies = s.anomalies + excluded.anomalies,
        errors = s.errors + excluded.errors,
        fallbacks = s.fallbacks + excluded.fallbacks,
        latency = ARRAY(SELECT x.a + x.b FROM unnest(s.latency, excluded.latency)
                        WITH ORDINALITY AS x(a, b, i) ORDER BY x.i),
        shadow_compared = s.shadow_compared + excluded.shadow_compared,
        shadow_agreed = s.shadow_agreed + excluded.shadow_agreed
"""
# Sums of the matching rows, the latency buckets position by position.
_SUM_ROWS = """
    SELECT coalesce(sum(predictions), 0) AS predictions,
           coalesce(sum(anomalies), 0) AS anomalies,
           coalesce(sum(errors), 0) AS errors,
           coalesce(sum(fallbacks), 0) AS fallbacks,
           ARRAY(SELECT sum(l.n) FROM picked, unnest(picked.latency) WITH ORDINALITY AS l(n, i)
                 GROUP BY l.i ORDER BY l.i) AS latency,
           coalesce(sum(shadow_compared), 0) AS shadow_compared,
           coalesce(sum(shadow_agreed), 0) AS shadow_agreed
    FROM picked
"""
VERSION_WINDOW = (
    """WITH picked AS (
        SELECT * FROM version_stats
        WHERE series_id = %s AND version = %s AND bucket_end > %s AND bucket < %s
    )"""
    + _SUM_ROWS
)
ROLLOUT_WINDOW = (
    """WITH picked AS (
        SELECT st.* FROM rollout_members m JOIN version_stats st ON st.series_id = m.series_id
          AND st.version = CASE WHEN %(side)s = 'stable' THEN m.stable_version
                                ELSE m.candidate_version END
        WHERE m.rollout_id = %(rollout_id)s AND st.bucket_end > %(since)s
    )"""
    + _SUM_ROWS
)
PRUNE_STATS = "DELETE FROM version_stats WHERE bucket < now() - make_interval(days => %s)"
PRUNE_TRACK_STATS = "DELETE FROM track_stats WHERE bucket < now() - make_interval(days => %s)"
RECORD_TRACK_STATS = """
    INSERT INTO track_stats AS s (track, bucket, bucket_end, requests, errors, latency)
    VALUES (%s, %s, %s, %s, %s, %s)
    ON CONFLICT (track, bucket) DO UPDATE SET
        requests = s.requests + excluded.requests,
        errors = s.errors + excluded.errors,
        latency = ARRAY(SELECT x.a + x.b FROM unnest(s.latency, excluded.latency)
                        WITH ORDINALITY AS x(a, b, i) ORDER BY x.i)
"""
TRACK_WINDOW = """
    WITH picked AS (SELECT * FROM track_stats WHERE track = %s AND bucket_end > %s)
    SELECT coalesce(sum(requests), 0) AS predictions, 0 AS anomalies,
           coalesce(sum(errors), 0) AS errors, 0 AS fallbacks,
           ARRAY(SELECT sum(l.n) FROM picked, unnest(picked.latency) WITH ORDINALITY AS l(n, i)
                 GROUP BY l.i ORDER BY l.i) AS latency,
           0 AS shadow_compared, 0 AS shadow_agreed
    FROM picked
"""

# -- labels ---------------------------------------------------------------------------------
RECORD_FEEDBACK = """
    INSERT INTO feedback AS f (series_id, ts, value, label)
    SELECT %s, * FROM unnest(%s::bigint[], %s::float8[], %s::bool[])
    ON CONFLICT (series_id, ts) DO UPDATE SET value = excluded.value, label = excluded.label,
        received_at = now()
    RETURNING (xmax <> 0) AS replaced
"""
FEEDBACK = """
    SELECT series_id, ts, value, label FROM feedback
    WHERE series_id = ANY(%s) AND (%s::timestamptz IS NULL OR received_at >= %s)
    ORDER BY series_id, ts
"""


def window_from_row(row: Mapping[str, Any]) -> VersionWindow:
    """A summed row (`_SUM_ROWS`) as a window; no rows sum to an empty window."""
    latency = tuple(int(n) for n in row["latency"]) or (0,) * N_LATENCY
    return VersionWindow(
        predictions=int(row["predictions"]),
        anomalies=int(row["anomalies"]),
        errors=int(row["errors"]),
        fallbacks=int(row["fallbacks"]),
        latency=latency,
        shadow_compared=int(row["shadow_compared"]),
        shadow_agreed=int(row["shadow_agreed"]),
    )


def rollout_from_row(row: Mapping[str, Any]) -> RolloutRecord:
    spec = parse_rollout_spec(row["spec"])
    state = RolloutState(
        phase=Phase(row["phase"]),
        step=row["step"],
        weight=row["weight"],
        started_at=row["started_at"],
        step_started_at=row["step_started_at"],
        failures=row["failures"],
    )
    return RolloutRecord(
        istio=IstioRoute.from_dict(row["istio"]) if row["istio"] else None,
        rollout_id=row["rollout_id"],
        spec=spec,
        state=state,
        driver=Driver(row["driver"]),
        driver_ref=row["driver_ref"],
        fleet=row["fleet"],
        members=row["members"],
        revision=row["revision"],
        reason=row["reason"],
        last_analysis=row["last_analysis"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        finished_at=row["finished_at"],
        series_id=row["series_id"],
        stable=row["stable_version"],
        candidate=row["candidate_version"],
        correlation_id=row["correlation_id"],
    )
