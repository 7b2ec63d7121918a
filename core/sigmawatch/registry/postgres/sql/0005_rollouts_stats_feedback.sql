-- Model rollouts (REL-1..5): state, members, transitions; per-(series, version)
-- statistics flushed by every pod; ground-truth labels (feedback).

CREATE TABLE rollouts (
    rollout_id       bigserial PRIMARY KEY,
    strategy         text NOT NULL CHECK (strategy IN ('shadow', 'canary')),
    spec             jsonb NOT NULL,            -- strategy, steps, analysis (camelCase)
    driver           text NOT NULL CHECK (driver IN ('api', 'operator')),
    driver_ref       text,                      -- "<namespace>/<ModelRollout>" for the operator
    fleet            boolean NOT NULL DEFAULT false,
    istio            jsonb,                     -- the VirtualService route of an Istio rollout
    phase            text NOT NULL,
    step             integer NOT NULL DEFAULT 0,
    weight           integer NOT NULL DEFAULT 0 CHECK (weight BETWEEN 0 AND 100),
    failures         integer NOT NULL DEFAULT 0,
    revision         integer NOT NULL DEFAULT 1,
    reason           text,
    last_analysis    jsonb,
    members          integer NOT NULL DEFAULT 0,
    started_at       timestamptz NOT NULL,
    step_started_at  timestamptz NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz
);
CREATE INDEX rollouts_active ON rollouts (rollout_id) WHERE finished_at IS NULL;
CREATE INDEX rollouts_driver_ref ON rollouts (driver_ref, rollout_id DESC);

CREATE TABLE rollout_members (
    rollout_id         bigint NOT NULL REFERENCES rollouts (rollout_id),
    series_id          text COLLATE "C" NOT NULL REFERENCES series (series_id),
    stable_version     integer NOT NULL,
    candidate_version  integer NOT NULL,
    active             boolean NOT NULL DEFAULT true,
    PRIMARY KEY (rollout_id, series_id)
);
-- At most one active rollout per series.
CREATE UNIQUE INDEX rollout_members_one_active ON rollout_members (series_id) WHERE active;

CREATE TABLE rollout_transitions (
    rollout_id  bigint NOT NULL REFERENCES rollouts (rollout_id),
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    phase       text NOT NULL,
    step        integer NOT NULL,
    weight      integer NOT NULL,
    reason      text NOT NULL
);
CREATE INDEX rollout_transitions_by_rollout ON rollout_transitions (rollout_id, at);

-- Counts per (series, version) per time bucket; pods add theirs on flush, so the
-- rows merge exactly across pods. Latency counts use fixed buckets
-- (sigmawatch.rollouts.window.LATENCY_BUCKETS_MS).
CREATE TABLE version_stats (
    series_id        text COLLATE "C" NOT NULL,
    version          integer NOT NULL,
    bucket           timestamptz NOT NULL,      -- when the bucket starts
    bucket_end       timestamptz NOT NULL,
    predictions      bigint NOT NULL DEFAULT 0,
    anomalies        bigint NOT NULL DEFAULT 0,
    errors           bigint NOT NULL DEFAULT 0,
    fallbacks        bigint NOT NULL DEFAULT 0,
    latency          bigint[] NOT NULL,
    shadow_compared  bigint NOT NULL DEFAULT 0,
    shadow_agreed    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (series_id, version, bucket)
);
CREATE INDEX version_stats_bucket ON version_stats (bucket);
CREATE INDEX version_stats_bucket_end ON version_stats (series_id, version, bucket_end);

-- Requests per pod track (stable, candidate) per bucket: an Istio rollout between two
-- inference Deployments is judged on these.
CREATE TABLE track_stats (
    track       text NOT NULL,
    bucket      timestamptz NOT NULL,
    bucket_end  timestamptz NOT NULL,
    requests    bigint NOT NULL DEFAULT 0,
    errors      bigint NOT NULL DEFAULT 0,
    latency     bigint[] NOT NULL,
    PRIMARY KEY (track, bucket)
);

-- Ground truth: was the point at this timestamp truly anomalous? A label
-- sent again for the same series and timestamp replaces the old one.
CREATE TABLE feedback (
    series_id    text COLLATE "C" NOT NULL,
    ts           bigint NOT NULL,
    value        double precision NOT NULL,
    label        boolean NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (series_id, ts)
);
CREATE INDEX feedback_received ON feedback (series_id, received_at);
