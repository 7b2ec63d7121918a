"""The registry's ML-health store (OBS-2): hourly and daily periods, drift, shared counts.

`shared_counts` exists because every pod sets the ML-health gauges from the
same rows: at 100,000 series the two aggregates take ~0.75 s, so each pod
running them every minute would multiply the database's work by the pod
count. It answers counts no older than `max_age_s`; when they are older,
the first caller computes and stores them while the others, not waiting,
answer the stored ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sigmawatch.registry.health_records import (
    DriftRow,
    HealthPage,
    HealthQuery,
    RateRow,
    VersionHealth,
)
from sigmawatch.registry.rollout_records import StatsRow


@dataclass(frozen=True, slots=True)
class SharedCounts:
    anomalous: int  # pairs `anomaly_rates(rates)` lists
    drifting: int  # pairs `drifting(drift)` lists
    computed_at: datetime


class HealthStore(Protocol):
    def record_periods(self, rows: Sequence[StatsRow]) -> None:
        """Add one pod's counts (and drift bins) to their hours and UTC days, and record
        the drift references (training shares) rows carry, once per (series, version)."""
        ...

    def version_health(
        self, series_id: str, version: int, since: datetime, until: datetime | None = None
    ) -> VersionHealth:
        """The version's hourly and daily periods that overlap [since, until), and its
        drift over them (the daily ones for windows of a day or more)."""
        ...

    def anomaly_rates(self, query: HealthQuery) -> HealthPage[RateRow]:
        """(series, version) pairs whose anomaly rate over the periods overlapping the
        window is at least `query.threshold`, by series then version, a page at a time."""
        ...

    def drifting(self, query: HealthQuery) -> HealthPage[DriftRow]:
        """Pairs whose KL divergence over the window is at least `query.threshold`."""
        ...

    def count_over(self, rates: HealthQuery, drift: HealthQuery) -> tuple[int, int]:
        """How many pairs `anomaly_rates(rates)` and `drifting(drift)` list in all."""
        ...

    def prune_health(self, hourly_days: int, daily_days: int) -> int:
        """Drop hourly and daily periods older than these; returns rows removed."""
        ...

    def shared_counts(
        self, rates: HealthQuery, drift: HealthQuery, max_age_s: float
    ) -> SharedCounts | None:
        """`count_over(rates, drift)` computed at most `max_age_s` ago by any process;
        older ones while another process computes them; None before any exist."""
        ...
