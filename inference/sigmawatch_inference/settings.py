"""The service's settings: training's and storage's, plus serving and process ones."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sigmawatch.settings import TrainingSettings


class ServiceSettings(TrainingSettings):
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

    # Process
    host: str = Field(default="127.0.0.1", description="Address `sigmawatch serve` binds.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port `sigmawatch serve` binds.")
    workers: int = Field(default=1, ge=1, description="uvicorn worker processes.")
    access_log: bool = Field(default=False, description="Per-request access log (costs ~25%).")
