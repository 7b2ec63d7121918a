-- A fleet-sized catalogue straight in SQL (bench_catalogue.py, and the
-- catalogue plan test at a smaller size): %(series)s series named
-- fleet_000000 ..., %(versions)s versions each, created one second apart.
-- The last 2% of series (by name) are mad detectors, the others zscore, as when a
-- new detector reaches a recent part of the fleet; each series' two
-- oldest versions are archived; the newest is production. Only the columns
-- the catalogue reads carry meaning.
INSERT INTO series (series_id, latest_version, production_version)
SELECT 'fleet_' || lpad(i::text, 6, '0'), %(versions)s, %(versions)s
FROM generate_series(0, %(series)s - 1) AS i;

INSERT INTO model_versions (
    series_id, version, status, detector_kind, detector_params, spec_hash, data_hash,
    n_points, stats, training_start, training_end, artifact_prefix, manifest_sha256,
    training_ms, created_at, archived_at, is_production
)
SELECT 'fleet_' || lpad(i::text, 6, '0'), v,
       CASE WHEN v <= 2 THEN 'archived' ELSE 'active' END,
       CASE WHEN i * 50 >= %(series)s * 49 THEN 'mad' ELSE 'zscore' END,
       '{}', 'spec', md5(i::text || ':' || v::text), 10000, '{}', 1, 2, 'fleet/', 'sha',
       1.0,
       timestamptz '2026-01-01' + make_interval(secs => i * %(versions)s + v),
       CASE WHEN v <= 2 THEN timestamptz '2026-06-01' END,
       v = %(versions)s
FROM generate_series(0, %(series)s - 1) AS i, generate_series(1, %(versions)s) AS v;

ANALYZE series;
ANALYZE model_versions;
