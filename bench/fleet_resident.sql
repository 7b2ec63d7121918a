-- A fleet of parametric production models straight in SQL (bench_resident.py):
-- %(series)s series named fleet_0000000 ..., one version each, production,
-- with the fitted numbers a z-score (three in four) or MAD version carries in
-- `state` since migration 0010, and a usage rank so the load order is real.
INSERT INTO series (series_id, latest_version, production_version, usage_rank)
SELECT 'fleet_' || lpad(i::text, 7, '0'), 1, 1, (i::bigint * 7919) %% 100003
FROM generate_series(0, %(series)s - 1) AS i;

INSERT INTO model_versions (
    series_id, version, status, detector_kind, detector_params, spec_hash, data_hash,
    n_points, stats, training_start, training_end, artifact_prefix, manifest_sha256,
    training_ms, is_production, state, drift_quantiles
)
SELECT 'fleet_' || lpad(i::text, 7, '0'), 1, 'active',
       CASE WHEN i %% 4 = 3 THEN 'mad' ELSE 'zscore' END,
       jsonb_build_object('threshold', 3.0 + (i %% 5) * 0.25), 'spec', md5(i::text), 10000,
       st.stats,
       1767225600, 1770225600, 'fleet/', 'sha', 1.0, true,
       CASE WHEN i %% 4 = 3
            THEN jsonb_build_object('median', 10.0 + (i %% 97) / 7.0, 'scale', 1.0 + (i %% 13) / 3.0)
            ELSE jsonb_build_object('mean', 10.0 + (i %% 97) / 7.0, 'std', 1.0 + (i %% 13) / 3.0)
       END,
       packed_quantiles(st.stats)  -- as registration writes it (migration 0013)
FROM generate_series(0, %(series)s - 1) AS i,
     -- The training statistics every version stores (the drift bins read p1 … p99).
     LATERAL (SELECT jsonb_build_object(
         'n_points', 10000, 'mean', 10.0, 'std', 2.0, 'min', 2.1, 'max', 18.3, 'p1', 5.35,
         'p5', 6.71, 'p25', 8.65, 'p50', 10.0, 'p75', 11.35, 'p95', 13.29, 'p99', 14.65
     ) AS stats) AS st;

ANALYZE series;
ANALYZE model_versions;
