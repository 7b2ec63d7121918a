-- REG-1..6: series, their versions and production pointers.
-- series_id uses the "C" collation so `LIKE 'prefix%'` can use the primary key.

CREATE TABLE series (
    series_id           text COLLATE "C" PRIMARY KEY,
    latest_version      integer NOT NULL DEFAULT 0,
    production_version  integer,
    usage_count         bigint NOT NULL DEFAULT 0,
    last_used_at        timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE model_versions (
    series_id        text COLLATE "C" NOT NULL REFERENCES series (series_id),
    version          integer NOT NULL CHECK (version > 0),
    status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    detector_kind    text NOT NULL,
    detector_params  jsonb NOT NULL,
    spec_hash        text NOT NULL,
    data_hash        text NOT NULL,
    n_points         integer NOT NULL,
    stats            jsonb NOT NULL,
    training_start   bigint NOT NULL,
    training_end     bigint NOT NULL,
    artifact_prefix  text NOT NULL,
    manifest_sha256  text NOT NULL,
    training_ms      double precision NOT NULL,
    source           text NOT NULL DEFAULT 'api',
    created_at       timestamptz NOT NULL DEFAULT now(),
    archived_at      timestamptz,
    PRIMARY KEY (series_id, version),
    -- CONS-2: the same data and detector spec is one version, never two.
    UNIQUE (series_id, data_hash, spec_hash)
);

CREATE INDEX model_versions_created_at ON model_versions (created_at);
CREATE INDEX series_usage ON series (usage_count DESC) WHERE production_version IS NOT NULL;
CREATE INDEX series_updated_at ON series (updated_at);
