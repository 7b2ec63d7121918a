"""The fleet's ML-health gauges (OBS-2, OBS-4), computed off the request path.

Every `SIGMAWATCH_ML_SUMMARY_INTERVAL_S` the housekeeper asks the registry
how many (series, version) pairs are over the anomaly-rate threshold in the
hours the last 60 minutes overlap (this hour and the one before) and over
the drift threshold in the UTC days the last 24 hours overlap, and sets two
gauges. One pod per interval runs the two aggregates and stores the counts
in the registry; the others read them (`Registry.shared_counts`), so the
database's work does not grow with the pods. Every pod exports the same
numbers and the time they were computed, so alerts take the `max` across
pods. The per-series detail stays in PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sigmawatch.registry import Registry
from sigmawatch.registry.health_records import HealthQuery
from sigmawatch_inference.metrics_ml import MlGauges
from sigmawatch_inference.settings import ServiceSettings

RATE_WINDOW = timedelta(hours=1)
DRIFT_WINDOW = timedelta(days=1)


def summary_queries(settings: ServiceSettings, now: datetime) -> tuple[HealthQuery, HealthQuery]:
    rates = HealthQuery(
        since=now - RATE_WINDOW,
        until=now,
        threshold=settings.anomaly_rate_threshold,
        min_points=settings.ml_min_points,
    )
    drift = HealthQuery(
        since=now - DRIFT_WINDOW,
        until=now,
        threshold=settings.drift_kl_threshold,
        min_points=settings.ml_min_points,
    )
    return rates, drift


# Counts computed this much of an interval ago are fresh: the pod that computed them
# finds them stale again at its next tick, so one pod keeps doing it while it lives.
FRESH_SHARE = 0.9


def summarise(
    registry: Registry, settings: ServiceSettings, gauges: MlGauges
) -> tuple[int, int] | None:
    """Set the gauges; returns (series over the anomaly rate, versions drifting), or None
    while another pod computes the very first counts."""
    max_age = settings.ml_summary_interval_s * FRESH_SHARE
    counts = registry.shared_counts(*summary_queries(settings, datetime.now(UTC)), max_age)
    if counts is None:
        return None
    gauges.series_anomalous.set(counts.anomalous)
    gauges.versions_drifting.set(counts.drifting)
    gauges.summary_time.set(counts.computed_at.timestamp())
    return counts.anomalous, counts.drifting
