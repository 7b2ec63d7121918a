"""`MemoryRegistry`'s hourly and daily periods and drift (the twin of postgres/health.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from sigmawatch.registry.health_protocol import SharedCounts
from sigmawatch.registry.health_records import (
    DAY,
    HOUR,
    DriftRow,
    HealthPage,
    HealthQuery,
    PeriodCounts,
    RateRow,
    VersionHealth,
    drift_of,
    period_start,
    sum_bins,
    width_for,
)
from sigmawatch.registry.memory.base import MemoryState, atomic
from sigmawatch.registry.rollout_records import StatsRow

type Pair = tuple[str, int]


class Health(MemoryState):
    @atomic
    def record_periods(self, rows: Sequence[StatsRow]) -> None:
        for row in rows:
            for width in (HOUR, DAY):
                key = (width, row.series_id, row.version, period_start(row.bucket, width))
                old = self.periods.get(key) or PeriodCounts(key[3])
                self.periods[key] = dataclasses.replace(
                    old,
                    predictions=old.predictions + row.predictions,
                    anomalies=old.anomalies + row.anomalies,
                    errors=old.errors + row.errors,
                    drift_bins=sum_bins([old, PeriodCounts(key[3], drift_bins=row.drift_bins)]),
                )
            if row.training_shares:
                self.drift_references.setdefault((row.series_id, row.version), row.training_shares)

    def _of(
        self, width: timedelta, pair: Pair, first: datetime, until: datetime
    ) -> list[PeriodCounts]:
        found = [
            p
            for (w, s, v, start), p in self.periods.items()
            if w == width and (s, v) == pair and first <= start < until
        ]
        return sorted(found, key=lambda p: p.period)

    @atomic
    def version_health(
        self, series_id: str, version: int, since: datetime, until: datetime | None = None
    ) -> VersionHealth:
        until = until or datetime.now(UTC)
        pair = (series_id, version)
        hourly = self._of(HOUR, pair, period_start(since, HOUR), until)
        daily = self._of(DAY, pair, period_start(since, DAY), until)
        return VersionHealth(
            hourly=hourly,
            daily=daily,
            drift_bins=sum_bins(daily if width_for(since, until) == DAY else hourly),
            training_shares=self.drift_references.get(pair),
        )

    def _summed(self, query: HealthQuery) -> dict[Pair, list[PeriodCounts]]:
        pairs: dict[Pair, list[PeriodCounts]] = {}
        first, width = query.first_period, query.width
        for (w, s, v, start), p in self.periods.items():
            if w == width and first <= start < query.until and (s, v) > (query.cursor or ("", 0)):
                pairs.setdefault((s, v), []).append(p)
        return dict(sorted(pairs.items()))

    def _rates(self, query: HealthQuery) -> list[RateRow]:
        found = []
        for (s, v), periods in self._summed(query).items():
            row = RateRow(
                s,
                v,
                sum(p.predictions for p in periods),
                sum(p.anomalies for p in periods),
                sum(p.errors for p in periods),
            )
            if row.predictions >= max(query.min_points, 1) and row.anomaly_rate >= query.threshold:
                found.append(row)
        return found

    def _drifting(self, query: HealthQuery) -> list[DriftRow]:
        found = []
        for (s, v), periods in self._summed(query).items():
            shares = self.drift_references.get((s, v))
            bins = sum_bins(periods)
            points = sum(n for n, q in zip(bins, shares or (), strict=False) if q > 0)
            kl = drift_of(bins, shares)
            if kl is not None and points >= max(query.min_points, 1) and kl >= query.threshold:
                found.append(DriftRow(s, v, points, kl))
        return found

    @atomic
    def anomaly_rates(self, query: HealthQuery) -> HealthPage[RateRow]:
        return _page(self._rates(query), query, lambda r: (r.series_id, r.version))

    @atomic
    def drifting(self, query: HealthQuery) -> HealthPage[DriftRow]:
        return _page(self._drifting(query), query, lambda r: (r.series_id, r.version))

    @atomic
    def shared_counts(
        self, rates: HealthQuery, drift: HealthQuery, max_age_s: float
    ) -> SharedCounts | None:
        now = datetime.now(UTC)
        last = self.summary
        if last is None or last.computed_at <= now - timedelta(seconds=max_age_s):
            self.summary = SharedCounts(len(self._rates(rates)), len(self._drifting(drift)), now)
        return self.summary

    @atomic
    def count_over(self, rates: HealthQuery, drift: HealthQuery) -> tuple[int, int]:
        return len(self._rates(rates)), len(self._drifting(drift))

    @atomic
    def prune_health(self, hourly_days: int, daily_days: int) -> int:
        now = datetime.now(UTC)
        keep = {HOUR: timedelta(days=hourly_days), DAY: timedelta(days=daily_days)}
        old = [key for key in self.periods if key[3] < now - keep[key[0]]]
        for key in old:
            del self.periods[key]
        return len(old)


def _page[T](items: list[T], query: HealthQuery, key: Callable[[T], Pair]) -> HealthPage[T]:
    if len(items) <= query.limit:
        return HealthPage(items, None)
    return HealthPage(items[: query.limit], key(items[query.limit - 1]))
