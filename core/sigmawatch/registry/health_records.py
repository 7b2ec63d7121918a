"""Per-(series, version) ML health as the registry answers it (OBS-2).

Every statistics flush adds its rows to hourly and daily periods; these
records are what the registry reads back: one version's periods and drift,
and the fleet's (series, version) pairs over a threshold, a page at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sigmawatch.drift import EMPTY_BINS, drift_summary, kl_divergence

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# Windows this long or longer read the daily periods (the UTC days they overlap);
# shorter ones the hourly: a day's drift sums 2 rows per pair, not 25.
DAILY_FROM = timedelta(days=1)


def period_start(at: datetime, width: timedelta) -> datetime:
    """The hour or UTC day `at` falls in."""
    at = at.astimezone(UTC)
    if width == DAY:
        return at.replace(hour=0, minute=0, second=0, microsecond=0)
    return at.replace(minute=0, second=0, microsecond=0)


def width_for(since: datetime, until: datetime) -> timedelta:
    return DAY if until - since >= DAILY_FROM else HOUR


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


@dataclass(frozen=True, slots=True)
class PeriodCounts:
    """One (series, version)'s counts in one hour or day, summed over every pod."""

    period: datetime
    predictions: int = 0
    anomalies: int = 0
    errors: int = 0
    drift_bins: tuple[int, ...] = EMPTY_BINS

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.period.isoformat(),
            "predictions": self.predictions,
            "anomalies": self.anomalies,
            "errors": self.errors,
            "anomaly_rate": _rate(self.anomalies, self.predictions),
            "error_rate": _rate(self.errors, self.predictions + self.errors),
        }


def sum_bins(periods: Sequence[PeriodCounts]) -> tuple[int, ...]:
    return tuple(
        sum(column) for column in zip(EMPTY_BINS, *(p.drift_bins for p in periods), strict=True)
    )


@dataclass(frozen=True, slots=True)
class VersionHealth:
    """A version's hourly and daily periods overlapping a window, and its drift there
    (live values over the hourly periods, or the daily ones for long windows)."""

    hourly: list[PeriodCounts] = field(default_factory=list)
    daily: list[PeriodCounts] = field(default_factory=list)
    drift_bins: tuple[int, ...] = EMPTY_BINS
    training_shares: tuple[float, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "hourly": [p.to_dict() for p in self.hourly],
            "daily": [p.to_dict() for p in self.daily],
            "drift": drift_summary(self.drift_bins, self.training_shares),
        }


@dataclass(frozen=True, slots=True)
class RateRow:
    """A (series, version) whose anomaly rate in a window is over a threshold."""

    series_id: str
    version: int
    predictions: int
    anomalies: int
    errors: int

    @property
    def anomaly_rate(self) -> float:
        return self.anomalies / self.predictions

    def to_dict(self) -> dict[str, Any]:
        return {
            "series_id": self.series_id,
            "version": f"v{self.version}",
            "predictions": self.predictions,
            "anomalies": self.anomalies,
            "errors": self.errors,
            "anomaly_rate": round(self.anomaly_rate, 6),
        }


@dataclass(frozen=True, slots=True)
class DriftRow:
    """A (series, version) whose live values in a window diverge from its training."""

    series_id: str
    version: int
    points: int
    kl_divergence: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "series_id": self.series_id,
            "version": f"v{self.version}",
            "points": self.points,
            "kl_divergence": round(self.kl_divergence, 6),
        }


@dataclass(frozen=True, slots=True)
class HealthQuery:
    """Which (series, version) pairs to list: periods overlapping [since, until), at
    least `min_points` points, over `threshold` (an anomaly rate, or a KL divergence)."""

    since: datetime
    until: datetime
    threshold: float
    min_points: int = 1
    limit: int = 100
    cursor: tuple[str, int] | None = None

    @property
    def width(self) -> timedelta:
        return width_for(self.since, self.until)

    @property
    def first_period(self) -> datetime:
        return period_start(self.since, self.width)


@dataclass(frozen=True, slots=True)
class HealthPage[T]:
    items: list[T]
    next_cursor: tuple[str, int] | None


def drift_of(bins: Sequence[int], shares: Sequence[float] | None) -> float | None:
    return kl_divergence(bins, shares) if shares is not None else None
