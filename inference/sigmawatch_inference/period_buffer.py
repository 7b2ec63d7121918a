"""Hourly periods of per-(series, version) statistics, summed in the pod between writes.

The statistics flush (every `SIGMAWATCH_STATS_FLUSH_INTERVAL_S`) writes the
short buckets rollouts are judged on; the rows it wrote are summed here by
(series, version, hour) and written to the hourly and daily periods every
`SIGMAWATCH_STATS_PERIOD_FLUSH_S` (OBS-2): a pod writes one row per series
and hour a minute instead of two every few seconds. A pod killed between
writes loses at most that much of its period counts.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import UTC, datetime

from sigmawatch.drift import N_BINS
from sigmawatch.registry.health_records import HOUR, period_start
from sigmawatch.registry.rollout_records import StatsRow

MAX_PENDING_PERIODS = 200_000

type Key = tuple[str, int, datetime]  # series, version, hour


class PeriodBuffer:
    def __init__(self) -> None:
        self._sums: dict[Key, list[int]] = {}
        self._shares: dict[tuple[str, int], tuple[float, ...]] = {}
        self._lock = threading.Lock()
        self.dropped = 0

    def add(self, rows: Iterable[StatsRow]) -> None:
        with self._lock:
            for row in rows:
                key = (row.series_id, row.version, period_start(row.bucket, HOUR))
                sums = self._sums.get(key)
                if sums is None:
                    if len(self._sums) >= MAX_PENDING_PERIODS:
                        self.dropped += 1
                        continue
                    sums = self._sums[key] = [0] * (3 + N_BINS)
                for i, n in enumerate(
                    (row.predictions, row.anomalies, row.errors, *row.drift_bins)
                ):
                    sums[i] += n
                if row.training_shares:
                    self._shares[(row.series_id, row.version)] = row.training_shares

    def take(self) -> list[StatsRow]:
        with self._lock:
            sums, self._sums = self._sums, {}
            shares, self._shares = self._shares, {}
        rows = []
        for (series_id, version, hour), (predictions, anomalies, errors, *bins) in sums.items():
            rows.append(
                StatsRow(
                    series_id,
                    version,
                    hour,
                    predictions=predictions,
                    anomalies=anomalies,
                    errors=errors,
                    bucket_end=hour + HOUR,
                    drift_bins=tuple(bins),
                    training_shares=shares.pop((series_id, version), None),
                )
            )
        rows += [  # shares of pairs whose counts went out earlier
            StatsRow(s, v, datetime.now(UTC), training_shares=t) for (s, v), t in shares.items()
        ]
        return rows

    def give_back(self, rows: list[StatsRow]) -> None:
        """What a failed write could not store, for the next one (bounded)."""
        self.add(rows)
