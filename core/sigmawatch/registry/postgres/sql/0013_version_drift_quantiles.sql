-- PERF-4 / issue 10: a serving process reads every parametric production
-- model before readiness, drift bins included (OBS-2). Taking the seven
-- training quantiles out of each row's jsonb statistics (7M jsonb lookups at
-- 1M models, and the wide statistics carried through the load's sorts) cost
-- more than the rest of the load together, so each version keeps them packed:
-- seven big-endian float8 (p1, p5, p25, p50, p75, p95, p99, float8send's
-- form, NaN where the statistics lack one), 56 bytes the load aggregates as
-- they are. Written at registration by this one function, so registration,
-- the back-fill and the load's fallback give the same bytes.
CREATE FUNCTION packed_quantiles(stats jsonb) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT float8send(coalesce((stats -> 'p1')::float8, 'NaN'))
        || float8send(coalesce((stats -> 'p5')::float8, 'NaN'))
        || float8send(coalesce((stats -> 'p25')::float8, 'NaN'))
        || float8send(coalesce((stats -> 'p50')::float8, 'NaN'))
        || float8send(coalesce((stats -> 'p75')::float8, 'NaN'))
        || float8send(coalesce((stats -> 'p95')::float8, 'NaN'))
        || float8send(coalesce((stats -> 'p99')::float8, 'NaN'))
$$;

ALTER TABLE model_versions ADD COLUMN drift_quantiles bytea;
-- Only the production versions, the ones a load reads: at most one row a series,
-- which at a million series takes longer than the 30 s a statement may (measured
-- in docs/performance.md), so this transaction has no statement timeout; pods
-- still on the previous release keep serving meanwhile. A version left NULL (one
-- that becomes production later, or a previous release's registration) is read
-- through packed_quantiles(stats).
SET LOCAL statement_timeout = 0;
UPDATE model_versions SET drift_quantiles = packed_quantiles(stats) WHERE is_production;
