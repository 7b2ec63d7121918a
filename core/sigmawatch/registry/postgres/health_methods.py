"""`PostgresRegistry`'s hourly and daily statistics and drift (OBS-2; SQL in health.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sigmawatch.registry.health_protocol import SharedCounts
from sigmawatch.registry.health_records import (
    DriftRow,
    HealthPage,
    HealthQuery,
    RateRow,
    VersionHealth,
    width_for,
)
from sigmawatch.registry.postgres import health, summary
from sigmawatch.registry.postgres.pooled import Pooled
from sigmawatch.registry.rollout_records import StatsRow


class HealthMethods(Pooled):
    def record_periods(self, rows: Sequence[StatsRow]) -> None:
        with self._write("record_periods") as conn:
            health.record(conn, rows)

    def version_health(
        self, series_id: str, version: int, since: datetime, until: datetime | None = None
    ) -> VersionHealth:
        until = until or datetime.now(UTC)
        with self._lagging_read("version_health") as conn:
            return health.version_health(
                conn, series_id, version, since, until, width_for(since, until)
            )

    def anomaly_rates(self, query: HealthQuery) -> HealthPage[RateRow]:
        with self._lagging_read("anomaly_rates") as conn:
            return health.anomaly_rates(conn, query)

    def drifting(self, query: HealthQuery) -> HealthPage[DriftRow]:
        with self._lagging_read("drifting") as conn:
            return health.drifting(conn, query)

    def shared_counts(
        self, rates: HealthQuery, drift: HealthQuery, max_age_s: float
    ) -> SharedCounts | None:
        with self._write("shared_counts") as conn:  # the primary: where they are stored
            return summary.shared_counts(conn, rates, drift, max_age_s)

    def count_over(self, rates: HealthQuery, drift: HealthQuery) -> tuple[int, int]:
        with self._lagging_read("count_over") as conn:
            return health.count_over(conn, rates, drift)

    def prune_health(self, hourly_days: int, daily_days: int) -> int:
        with self._write("prune_health") as conn:
            return health.prune(conn, hourly_days, daily_days)
