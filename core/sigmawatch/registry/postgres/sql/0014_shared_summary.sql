-- OBS-2: fleet-wide figures one pod computes per interval for all (the ML-health
-- gauges' counts), so N pods cost the database one aggregate, not N.
CREATE TABLE shared_summary (
    name         text PRIMARY KEY,
    computed_at  timestamptz NOT NULL,
    counts       jsonb NOT NULL
);
