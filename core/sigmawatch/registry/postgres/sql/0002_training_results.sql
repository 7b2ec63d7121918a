-- Outcome of every series in every training run (one run = one training Job),
-- so the operator can summarise a fleet's run without a per-series list in etcd.

CREATE TABLE training_results (
    run_id         text NOT NULL,
    series_id      text COLLATE "C" NOT NULL,
    outcome        text NOT NULL CHECK (outcome IN ('created', 'existing', 'failed')),
    version        integer,
    error_code     text,
    error_message  text,
    finished_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, series_id)
);
