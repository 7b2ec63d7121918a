"""The fleet's ML-health gauges (OBS-2, OBS-4), computed off the request path.

Every `SIGMAWATCH_ML_SUMMARY_INTERVAL_S` the housekeeper asks the registry
how many (series, version) pairs are over the anomaly-rate threshold in the
hours the last 60 minutes overlap (this hour and the one before) and over
the drift threshold in the UTC days the last 24 hours overlap, and sets two
gauges. Every pod computes the same numbers from the same rows, so alerts
take the `max` across pods. The per-series detail stays in PostgreSQL.
"""

from __future__ import annotations

import time
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


def summarise(registry: Registry, settings: ServiceSettings, gauges: MlGauges) -> tuple[int, int]:
    """Set the gauges; returns (series over the anomaly rate, versions drifting)."""
    anomalous, drifting = registry.count_over(*summary_queries(settings, datetime.now(UTC)))
    gauges.series_anomalous.set(anomalous)
    gauges.versions_drifting.set(drifting)
    gauges.summary_time.set(time.time())
    return anomalous, drifting
