-- OBS-2: per-(series, version) detail that Prometheus must not hold (100k+ series).
-- Points, anomalies, errors and drift-bin counts per hour and per day, added to
-- by every pod's statistics flush; and each version's drift reference: the
-- training share of each bin its stored quantiles define (sigmawatch.drift).
CREATE TABLE version_stats_hourly (
    series_id    text COLLATE "C" NOT NULL,
    version      integer NOT NULL,
    period       timestamptz NOT NULL,          -- the hour it starts
    predictions  bigint NOT NULL DEFAULT 0,
    anomalies    bigint NOT NULL DEFAULT 0,
    errors       bigint NOT NULL DEFAULT 0,
    -- Live values per drift bin (≤p1, p1-p5, …, >p99): columns, not an array, so
    -- summing them over the fleet is plain aggregates.
    bin0 bigint NOT NULL DEFAULT 0, bin1 bigint NOT NULL DEFAULT 0,
    bin2 bigint NOT NULL DEFAULT 0, bin3 bigint NOT NULL DEFAULT 0,
    bin4 bigint NOT NULL DEFAULT 0, bin5 bigint NOT NULL DEFAULT 0,
    bin6 bigint NOT NULL DEFAULT 0, bin7 bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (series_id, version, period)
) WITH (fillfactor = 70);  -- every flush updates the current period in place (HOT)
-- Fleet-wide questions (which series are over a rate in the last hour) read by period.
CREATE INDEX version_stats_hourly_period ON version_stats_hourly (period, series_id, version);

CREATE TABLE version_stats_daily (
    series_id    text COLLATE "C" NOT NULL,
    version      integer NOT NULL,
    period       timestamptz NOT NULL,          -- the UTC day it starts
    predictions  bigint NOT NULL DEFAULT 0,
    anomalies    bigint NOT NULL DEFAULT 0,
    errors       bigint NOT NULL DEFAULT 0,
    -- Live values per drift bin (≤p1, p1-p5, …, >p99): columns, not an array, so
    -- summing them over the fleet is plain aggregates.
    bin0 bigint NOT NULL DEFAULT 0, bin1 bigint NOT NULL DEFAULT 0,
    bin2 bigint NOT NULL DEFAULT 0, bin3 bigint NOT NULL DEFAULT 0,
    bin4 bigint NOT NULL DEFAULT 0, bin5 bigint NOT NULL DEFAULT 0,
    bin6 bigint NOT NULL DEFAULT 0, bin7 bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (series_id, version, period)
) WITH (fillfactor = 70);  -- every flush updates the current period in place (HOT)
CREATE INDEX version_stats_daily_period ON version_stats_daily (period);

CREATE TABLE version_drift_reference (
    series_id        text COLLATE "C" NOT NULL,
    version          integer NOT NULL,
    training_shares  float8[] NOT NULL,
    PRIMARY KEY (series_id, version)
);
