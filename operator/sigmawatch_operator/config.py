"""Operator configuration from `SIGMAWATCH_OPERATOR_*` environment variables.

Registry and artifact-store settings are the shared `SIGMAWATCH_*` ones
(`sigmawatch.settings.StorageSettings`); these are only what the operator adds.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class OperatorConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIGMAWATCH_OPERATOR_", extra="ignore")

    training_image: str = Field(
        default="ghcr.io/sigmawatch/sigmawatch-inference:0.1.0",
        description="Image of training Jobs (the inference image runs `sigmawatch train-fleet`).",
    )
    image_pull_policy: str = Field(default="IfNotPresent", description="Of training pods.")
    job_service_account: str = Field(
        default="sigmawatch-training", description="ServiceAccount of training pods."
    )
    database_secret: str = Field(
        default="sigmawatch-database",
        description="Secret whose `url` key is the registry's PostgreSQL URL, for training pods.",
    )
    s3_secret: str | None = Field(
        default="sigmawatch-s3",
        description="Secret with `access-key-id` / `secret-access-key` for training pods; "
        "empty to use the pod's own identity.",
    )
    config_map: str = Field(
        default="sigmawatch-config",
        description="ConfigMap passed to training pods with envFrom (artifact URL, S3 endpoint).",
    )
    reconcile_interval_s: float = Field(
        default=15.0, gt=0, description="How often each model is reconciled besides on changes."
    )
    rollout_tick_s: float = Field(
        default=1.0,
        gt=0,
        description="How often the rollout timer looks at each ModelRollout; each rollout "
        "is analysed only once per its own analysis.intervalSeconds.",
    )
    job_ttl_s: int = Field(
        default=7 * 86_400, ge=0, description="Finished training Jobs are deleted after this."
    )
    seconds_per_series: float = Field(
        default=0.1,
        gt=0,
        description="Training time a series is estimated at when a run's parallelism and "
        "deadline are derived from its size (job.parallelism / activeDeadlineSeconds unset).",
    )
    metrics_port: int = Field(default=9090, ge=0, description="Prometheus /metrics; 0 disables.")
    metrics_host: str = Field(
        default="0.0.0.0",  # noqa: S104 - in a pod, Prometheus scrapes the pod's address
        min_length=1,
        description="Address the metrics server binds; 127.0.0.1 outside a pod.",
    )
    peering_lifetime_s: int = Field(
        default=60, ge=5, description="How long a silent peer counts as alive (HA takeover time)."
    )
