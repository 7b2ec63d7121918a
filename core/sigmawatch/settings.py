"""Configuration from `SIGMAWATCH_*` environment variables.

Settings are built by `load_settings()` and passed in; nothing reads the
environment at import time. The README's configuration table mirrors the
fields below (a test keeps the two in step).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "sigmawatch"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIGMAWATCH_", extra="ignore")

    # Storage
    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Folder for the embedded PostgreSQL and the default file:// artifacts.",
    )
    database_url: str | None = Field(
        default=None,
        description="postgresql:// URL of the registry; unset starts an embedded PostgreSQL.",
    )
    artifacts_url: str | None = Field(
        default=None,
        description="Where model artifacts live: file:///path or s3://bucket/prefix; "
        "unset uses file://<data_dir>/artifacts.",
    )
    s3_endpoint_url: str | None = Field(
        default=None,
        description="Endpoint of an S3-compatible server (credentials come from AWS_* variables).",
    )
    s3_region: str = Field(default="us-east-1", description="Region passed to the S3 client.")
    db_pool_min: int = Field(default=1, ge=1, description="Registry connection pool: minimum.")
    db_pool_max: int = Field(default=8, ge=1, description="Registry connection pool: maximum.")

    # Training validation (VAL-1..5)
    min_training_points: int = Field(default=10_000, ge=2, description="VAL-1 lower bound.")
    max_training_points: int = Field(default=100_000, ge=2, description="VAL-5 upper bound.")
    min_std: float = Field(default=1e-6, gt=0, description="VAL-2: std below this is constant.")
    value_min: float = Field(default=-1e12, description="VAL-4: lowest plausible value.")
    value_max: float = Field(default=1e12, description="VAL-4: highest plausible value.")
    plot_points: int = Field(
        default=5_000, ge=0, description="Last N training points kept with a version for /plot."
    )
    retention_versions: int = Field(
        default=10, ge=1, description="REG-6: newest versions per series kept active."
    )

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
    max_body_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1, description="SEC-1: largest accepted request body."
    )

    # Process
    host: str = Field(default="127.0.0.1", description="Address `sigmawatch serve` binds.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port `sigmawatch serve` binds.")
    workers: int = Field(default=1, ge=1, description="uvicorn worker processes.")
    access_log: bool = Field(default=False, description="Per-request access log (costs ~25%).")
    log_level: str = Field(default="INFO", description="Log level of the JSON logs.")

    @property
    def resolved_artifacts_url(self) -> str:
        return self.artifacts_url or (self.data_dir / "artifacts").resolve().as_uri()


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (tests, CLI flags) on top."""
    return Settings(**overrides)  # type: ignore[arg-type]
