"""The service's settings: training's and storage's, access (security/settings.py),
plus serving and process ones."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator

from sigmawatch.settings import ConfigError, TrainingSettings, comma_list, env_name
from sigmawatch_inference.security.settings import AccessSettings


class ServiceSettings(TrainingSettings, AccessSettings):
    # Prediction warnings (VAL-7)
    future_tolerance_s: int = Field(
        default=3_600, ge=0, description="Warn when a timestamp is this far ahead of now."
    )
    past_tolerance_s: int = Field(
        default=365 * 86_400, ge=0, description="Warn when a timestamp is this far behind now."
    )
    training_gap_tolerance_s: int = Field(
        default=30 * 86_400,
        ge=0,
        description="Warn when a timestamp is this far outside the version's training range.",
    )

    # Serving path
    cache_max_entries: int = Field(default=20_000, ge=1, description="Model cache: entries.")
    cache_max_bytes: int = Field(
        default=512 * 1024 * 1024, ge=1, description="Model cache: approximate bytes."
    )
    cache_ttl_s: float | None = Field(
        default=None, gt=0, description="Model cache: seconds an entry lives; unset = no TTL."
    )
    resident_max_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=0,
        description="Resident model table: bytes for the z-score and MAD models held in "
        "columns (~120 a model); past it the most-used stay and the rest use the cache. "
        "0 turns the table off.",
    )
    resident_reload_s: float = Field(
        default=600.0,
        gt=0,
        description="How often the resident table is read again in full, taking in series "
        "first served since the last load (changes to resident series apply at once).",
    )
    warmup_top_n: int = Field(
        default=100, ge=0, description="MOD-7: most-used models loaded before readiness."
    )
    refresh_interval_s: float = Field(
        default=30.0,
        gt=0,
        le=300,
        description="Bounded periodic refresh of production pointers (besides LISTEN/NOTIFY).",
    )
    usage_flush_interval_s: float = Field(
        default=10.0, gt=0, description="How often usage counts are written to the registry."
    )
    stats_flush_interval_s: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="How often per-version statistics are written to the registry "
        "(a pod killed between flushes loses at most this much).",
    )
    stats_bucket_s: int = Field(
        default=10, ge=1, le=3600, description="Width of the stored statistics' time buckets."
    )
    stats_keep_days: int = Field(
        default=7, ge=1, description="Stored per-version statistics are pruned after this."
    )
    stats_period_flush_s: float = Field(
        default=60,
        gt=0,
        le=3600,
        description="OBS-2: how often a pod adds its counts to the hourly and daily periods; "
        "a killed pod loses at most this much of them.",
    )
    stats_hourly_keep_days: int = Field(
        default=35, ge=1, description="OBS-2: hourly periods per (series, version) kept this long."
    )
    stats_daily_keep_days: int = Field(
        default=400, ge=1, description="OBS-2: daily periods per (series, version) kept this long."
    )
    anomaly_rate_threshold: float = Field(
        default=0.2,
        ge=0,
        le=1,
        description="OBS-2/OBS-4: a series whose anomaly rate over the last hour is at least "
        "this counts in sigmawatch_series_anomaly_rate_high.",
    )
    drift_kl_threshold: float = Field(
        default=0.5,
        ge=0,
        description="OBS-2: a version whose live values of today and yesterday (UTC) diverge "
        "from its training distribution by at least this (KL, nats) counts in "
        "sigmawatch_series_drifting.",
    )
    ml_min_points: int = Field(
        default=100,
        ge=1,
        description="Points a (series, version) needs in the window to count in either gauge.",
    )
    ml_summary_interval_s: float = Field(
        default=60,
        ge=0,
        description="How often the anomaly-rate and drift gauges are computed from the "
        "registry; 0 turns it off.",
    )
    janitor_interval_s: float = Field(
        default=21_600,
        ge=0,
        description="How often the service removes orphan artifacts (also once after "
        "start-up); 0 turns it off, e.g. where a CronJob runs `sigmawatch janitor`.",
    )
    janitor_grace_s: float = Field(
        default=3_600,
        ge=0,
        description="The janitor keeps artifacts written more recently than this: a "
        "training may still register them.",
    )
    rollout_tick_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="How often the service looks for API-driven rollouts due an analysis.",
    )
    max_body_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1, description="SEC-1: largest accepted request body."
    )

    track: Literal["stable", "candidate"] = Field(
        default="stable",
        description="This pod's track: an Istio rollout between two inference Deployments "
        "compares their requests by it.",
    )

    # Request guards (SEC-1, SEC-5)
    allowed_hosts: str = Field(
        default="localhost,127.0.0.1,[::1]",
        description="Host names requests may be addressed to (any port), comma-separated; "
        "`*.example.com` allows subdomains, `*` any host (DNS rebinding).",
    )
    cors_origins: str = Field(
        default="",
        description="Origins allowed to call the API from a browser (CORS), comma-separated; "
        "empty: none.",
    )
    batch_max_items: int = Field(
        default=10_000, ge=1, description="Most items in one `POST /v1/predict`."
    )
    batch_load_concurrency: int = Field(
        default=8,
        ge=1,
        le=64,
        description="Models one batch request loads at once (each holds a worker thread).",
    )
    header_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a connection has to send a whole request head before it is closed.",
    )
    body_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="Seconds a request body may pause between two chunks before it is closed.",
    )
    keep_alive_s: float = Field(
        default=65.0,
        gt=0,
        description="Seconds an idle keep-alive connection stays open. Longer than clients' "
        "pools (httpx: 5 s) and load balancers' (60 s), so the client closes first and never "
        "sends on a connection the server is closing.",
    )
    tls_cert_file: Path | None = Field(
        default=None,
        description="PEM certificate (chain) to serve HTTPS with; needs `tls_key_file`.",
    )
    tls_key_file: Path | None = Field(
        default=None, description="PEM private key of `tls_cert_file`."
    )

    @property
    def cors_origin_list(self) -> list[str]:
        return comma_list(self.cors_origins)

    @model_validator(mode="after")
    def _tls_pair(self) -> Self:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ConfigError(
                f"set both {env_name('tls_cert_file')} and {env_name('tls_key_file')}, or neither"
            )
        return self

    # Process
    host: str = Field(default="127.0.0.1", description="Address `sigmawatch serve` binds.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port `sigmawatch serve` binds.")
    workers: int = Field(
        default=1,
        ge=1,
        description="uvicorn worker processes: only 1 (one per pod, scaled by replicas; "
        "docs/decisions/0018-one-worker-per-pod.md).",
    )
    access_log: bool = Field(default=False, description="Per-request access log (costs ~25%).")

    @field_validator("workers")
    @classmethod
    def _one_worker(cls, workers: int) -> int:
        # Each worker would hold its own cache, resident table, pools and /metrics.
        if workers > 1:
            raise ValueError(
                f"{workers} workers refused: one process per pod, add replicas to scale "
                "(each worker would keep its own model cache and metrics; "
                "docs/decisions/0018-one-worker-per-pod.md)"
            )
        return workers
