"""Configuration from `SIGMAWATCH_*` environment variables, shared by every process.

- `StorageSettings`: where the registry and the artifacts live, and the
  log level; every process (service, CLI, training Job, operator) has it.
- `TrainingSettings`: the data rules training applies (VAL-1..5) and what
  a version keeps; the service and the training commands have it.

Each app adds its own settings on top (the service's in
`sigmawatch_inference.settings`, the operator's in `sigmawatch_operator.config`).
Settings are built by `load_settings(cls)` and passed in; nothing reads the
environment at import time. The README's configuration table mirrors the
fields (a test keeps the two in step).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from sigmawatch.breaker import BreakerPolicy

ENV_PREFIX = "SIGMAWATCH_"


def comma_list(value: str) -> list[str]:
    """The entries of a comma-separated setting (or header), stripped, empty ones dropped."""
    return [part.strip() for part in value.split(",") if part.strip()]


def env_name(field: str, prefix: str = ENV_PREFIX) -> str:
    """The environment variable that sets a field."""
    return prefix + field.upper()


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "sigmawatch"


class ConfigError(ValueError):
    """Settings that cannot work together; the message names the variables."""


def _ordered(low_field: str, low: float, high_field: str, high: float, *, strict: bool) -> None:
    if low > high or (strict and low == high):
        relation = "below" if strict else "at most"
        raise ConfigError(
            f"{env_name(low_field)} ({low:g}) must be {relation} {env_name(high_field)} ({high:g})"
        )


class StorageSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Folder for the embedded PostgreSQL and the default file:// artifacts.",
    )
    database_url: str | None = Field(
        default=None,
        description="postgresql:// URL of the registry; unset starts an embedded PostgreSQL.",
    )
    database_read_url: str | None = Field(
        default=None,
        description="postgresql:// URL of a read replica for the catalogue and version "
        "statistics (SCALE-2); the primary answers while it does not.",
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
    storage_timeout_s: float = Field(
        default=2.0,
        gt=0,
        description="AV-2: deadline of a registry call (connection wait included) and of an "
        "S3 call's connect and each read (one attempt); slower calls fail with "
        "STORAGE_UNAVAILABLE and count for the breaker.",
    )
    breaker_failures: int = Field(
        default=5,
        ge=1,
        description="AV-2: consecutive failed or slow calls that open the registry's or the "
        "artifact store's circuit breaker.",
    )
    breaker_cool_down_s: float = Field(
        default=10.0,
        gt=0,
        description="AV-2: how long an open breaker fails calls fast before a probe may close it.",
    )
    log_level: str = Field(default="INFO", description="Log level of the JSON logs.")
    log_debug_sample: float = Field(
        default=1.0,
        ge=0.0,
        le=1.0,
        description="OBS-3: share of traces (or operations) whose DEBUG lines are kept, "
        "decided alike in every process; 1 keeps every line.",
    )

    def breaker_policy(self) -> BreakerPolicy:
        return BreakerPolicy(
            fail_max=self.breaker_failures,
            cool_down_s=self.breaker_cool_down_s,
            slow_s=self.storage_timeout_s,
        )

    @property
    def resolved_artifacts_url(self) -> str:
        return self.artifacts_url or (self.data_dir / "artifacts").resolve().as_uri()

    @model_validator(mode="after")
    def _pool_bounds(self) -> Self:
        _ordered("db_pool_min", self.db_pool_min, "db_pool_max", self.db_pool_max, strict=False)
        return self


class TrainingSettings(StorageSettings):
    min_training_points: int = Field(default=10_000, ge=2, description="VAL-1 lower bound.")
    max_training_points: int = Field(default=100_000, ge=2, description="VAL-5 upper bound.")
    min_std: float = Field(default=1e-6, gt=0, description="VAL-2: std below this is constant.")
    value_min: float = Field(
        default=-1e12, description="VAL-4: lowest plausible value (training and prediction)."
    )
    value_max: float = Field(
        default=1e12, description="VAL-4: highest plausible value (training and prediction)."
    )
    plot_points: int = Field(
        default=5_000, ge=0, description="Last N training points kept with a version for /plot."
    )
    retention_versions: int = Field(
        default=10,
        ge=1,
        description="REG-6: versions per series kept active, unless the series' "
        "AnomalyModel sets its own keepVersions.",
    )

    @model_validator(mode="after")
    def _data_bounds(self) -> Self:
        _ordered(
            "min_training_points",
            self.min_training_points,
            "max_training_points",
            self.max_training_points,
            strict=False,
        )
        _ordered("value_min", self.value_min, "value_max", self.value_max, strict=True)
        return self


def describe_error(exc: ValidationError, prefix: str = ENV_PREFIX) -> str:
    """One line per problem, each naming the environment variable to fix."""
    lines = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()))
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        lines.append(f"{env_name(where, prefix)}: {message}" if where else message)
    return "invalid configuration: " + "; ".join(lines)


def load_settings[S: BaseSettings](cls: type[S], **overrides: Any) -> S:
    """Settings from the environment, explicit overrides (tests, CLI flags) on top.

    Raises ConfigError with a message naming each variable at fault.
    """
    try:
        return cls(**overrides)
    except ValidationError as exc:
        prefix = str(cls.model_config.get("env_prefix", ENV_PREFIX))
        raise ConfigError(describe_error(exc, prefix)) from None
