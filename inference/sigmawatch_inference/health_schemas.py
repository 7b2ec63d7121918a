"""Answers of the ML-health reads (OBS-2): periods, drift and the fleet lists."""

from __future__ import annotations

from pydantic import BaseModel, Field


class PeriodModel(BaseModel):
    start: str = Field(description="When the hour or UTC day starts (ISO 8601).")
    predictions: int
    anomalies: int
    errors: int = Field(description="Points the version could not answer (its model failed).")
    anomaly_rate: float | None
    error_rate: float | None


class DriftModel(BaseModel):
    points: int = Field(description="Live values counted into the drift bins in the window.")
    kl_divergence: float | None = Field(
        description="D(live ‖ training) in nats over the bins of the version's training "
        "quantiles; null without points or without stored quantiles."
    )
    live_bins: list[int] = Field(description="Live values per bin: ≤p1, p1–p5, … , >p99.")
    training_shares: list[float] | None = Field(description="Training share of each bin.")


class RateItem(BaseModel):
    series_id: str
    version: str
    predictions: int
    anomalies: int
    errors: int
    anomaly_rate: float


class RatePage(BaseModel):
    since: str
    until: str
    items: list[RateItem]
    next_cursor: str | None


class DriftItem(BaseModel):
    series_id: str
    version: str
    points: int
    kl_divergence: float


class DriftPage(BaseModel):
    since: str
    until: str
    items: list[DriftItem]
    next_cursor: str | None
