"""Per-(series, version) statistics gathered on the hot path, flushed in batches.

Every prediction adds a few integers to the row of its (series, version,
time bucket); the background flush hands the rows to the registry, which
adds them to what other pods wrote. A pod killed between flushes loses at
most one flush interval of counts. Counts never go to Prometheus by
series: they would be 100k+ time series.

Each row also counts its scored values into the version's training-quantile
bins (sigmawatch.drift); the bins' training shares ride along with the first
row of each (series, version) this process hands over, for the registry's
drift reference.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sigmawatch.drift import N_BINS
from sigmawatch.registry.rollout_records import StatsRow, TrackRow
from sigmawatch.rollouts.window import N_LATENCY, latency_bucket

# The clock of the scoring latencies counted here, on every path: the scoring thread's
# CPU time, not the wall clock, so a stall (another thread holding the GIL, the OS
# running something else) is not put on whichever version was scoring then. A
# rollout compares versions by these (REL-3; docs/decisions/0019), and a stall says
# nothing about either; request latency, stalls included, is the middleware's.
scoring_clock = time.thread_time


def now_bucket(bucket_s: int) -> int:
    """The index of the current time bucket of `bucket_s` seconds."""
    return int(time.time()) // bucket_s


# Rows kept while the registry cannot take them; older ones are dropped beyond this.
MAX_PENDING_ROWS = 200_000

type Key = tuple[str, int, int]  # series, version, bucket index
type Shares = tuple[float, ...]
# Counts from the resident table: series, version, points, anomalies, requests, latency
# bucket of the requests, drift bins (or None), the bins' training shares (or None).
type ResidentCounts = tuple[str, int, int, int, int, int, list[int] | None, Shares | None]
# A shadow candidate's counts of one request: series, version, points, anomalies,
# points agreeing with stable, drift bins (or None), the bins' training shares (or None).
type ShadowCounts = tuple[str, int, int, int, int, list[int] | None, Shares | None]


@dataclass(slots=True)
class _Counts:
    predictions: int = 0
    anomalies: int = 0
    errors: int = 0
    fallbacks: int = 0
    compared: int = 0
    agreed: int = 0
    latency: list[int] = field(default_factory=lambda: [0] * N_LATENCY)
    bins: list[int] = field(default_factory=lambda: [0] * N_BINS)
    shares: Shares | None = None

    def add_bins(self, bins: list[int] | None, shares: Shares | None) -> None:
        if bins is not None:
            self.bins = [a + b for a, b in zip(self.bins, bins, strict=True)]
        if shares is not None:
            self.shares = shares

    def add(self, other: _Counts) -> None:
        self.predictions += other.predictions
        self.anomalies += other.anomalies
        self.errors += other.errors
        self.fallbacks += other.fallbacks
        self.compared += other.compared
        self.agreed += other.agreed
        for index, n in enumerate(other.latency):
            self.latency[index] += n
        self.add_bins(other.bins, other.shares)


class StatsBuffer:
    def __init__(self, bucket_s: int) -> None:
        self.bucket_s = bucket_s
        self._rows: dict[Key, _Counts] = {}
        self._lock = threading.Lock()
        self.dropped = 0
        # (series, version) whose training shares were handed over already.
        self._shares_sent: set[tuple[str, int]] = set()

    def wants_shares(self, series_id: str, version: int) -> bool:
        """Whether the next row of this version should carry its training shares."""
        return (series_id, version) not in self._shares_sent

    def _row(self, series_id: str, version: int, bucket: int | None = None) -> _Counts:
        """The row of (series, version) in `bucket`, the current one by default."""
        if bucket is None:
            bucket = now_bucket(self.bucket_s)
        key = (series_id, version, bucket)
        row = self._rows.get(key)
        if row is None:
            row = self._rows[key] = _Counts()
        return row

    def answered(
        self,
        series_id: str,
        version: int,
        points: int,
        anomalies: int,
        *,
        fallback: bool,
        latency_ms: float,
        bins: list[int] | None = None,
        shares: Shares | None = None,
    ) -> None:
        with self._lock:
            row = self._row(series_id, version)
            row.predictions += points
            row.anomalies += anomalies
            row.fallbacks += points if fallback else 0
            row.latency[latency_bucket(latency_ms)] += 1
            row.add_bins(bins, shares)

    def add_counts(self, bucket: int, rows: Iterable[ResidentCounts]) -> None:
        """Counts gathered elsewhere (the resident table) for time bucket `bucket`."""
        with self._lock:
            for series_id, version, points, anomalies, requests, latency, bins, shares in rows:
                row = self._row(series_id, version, bucket)
                row.predictions += points
                row.anomalies += anomalies
                row.latency[latency] += requests
                row.add_bins(bins, shares)

    def shadowed(self, rows: Iterable[ShadowCounts], latency_ms: float) -> None:
        """Candidates scored beside the answers of one request: their own counts and
        their agreement with stable."""
        latency = latency_bucket(latency_ms)
        bucket = now_bucket(self.bucket_s)
        with self._lock:
            for series_id, version, points, anomalies, agreed, bins, shares in rows:
                row = self._row(series_id, version, bucket)
                row.predictions += points
                row.anomalies += anomalies
                row.compared += points
                row.agreed += agreed
                row.latency[latency] += 1
                row.add_bins(bins, shares)

    def failed(self, series_id: str, version: int, points: int) -> None:
        """The version could not answer at all (its model did not load)."""
        with self._lock:
            self._row(series_id, version).errors += points

    def take(self) -> list[StatsRow]:
        with self._lock:
            rows, self._rows = self._rows, {}
            self._shares_sent.update((k[0], k[1]) for k, c in rows.items() if c.shares)
        return [
            StatsRow(
                series_id=series_id,
                version=version,
                bucket=datetime.fromtimestamp(bucket * self.bucket_s, UTC),
                bucket_end=datetime.fromtimestamp((bucket + 1) * self.bucket_s, UTC),
                predictions=c.predictions,
                anomalies=c.anomalies,
                errors=c.errors,
                fallbacks=c.fallbacks,
                latency=tuple(c.latency),
                shadow_compared=c.compared,
                shadow_agreed=c.agreed,
                drift_bins=tuple(c.bins),
                training_shares=c.shares,
            )
            for (series_id, version, bucket), c in rows.items()
        ]

    def give_back(self, rows: list[StatsRow]) -> None:
        """Rows a failed flush could not write, for the next flush (bounded)."""
        with self._lock:
            for row in rows:
                if len(self._rows) >= MAX_PENDING_ROWS:
                    self.dropped += 1
                    if row.training_shares:  # the next row must carry them again
                        self._shares_sent.discard((row.series_id, row.version))
                    continue
                key = (row.series_id, row.version, int(row.bucket.timestamp()) // self.bucket_s)
                counts = _Counts(
                    row.predictions,
                    row.anomalies,
                    row.errors,
                    row.fallbacks,
                    row.shadow_compared,
                    row.shadow_agreed,
                    list(row.latency),
                    list(row.drift_bins),
                    row.training_shares,
                )
                self._rows.setdefault(key, _Counts()).add(counts)


class TrackBuffer:
    """This pod's predict requests under its track, per bucket: one row per bucket."""

    def __init__(self, track: str, bucket_s: int) -> None:
        self.track = track
        self.bucket_s = bucket_s
        self._rows: dict[int, _Counts] = {}
        self._lock = threading.Lock()

    def request(self, latency_ms: float, *, error: bool) -> None:
        bucket = now_bucket(self.bucket_s)
        with self._lock:
            row = self._rows.get(bucket)
            if row is None:
                row = self._rows[bucket] = _Counts()
            row.predictions += 1
            row.errors += error
            row.latency[latency_bucket(latency_ms)] += 1

    def take(self) -> list[TrackRow]:
        with self._lock:
            rows, self._rows = self._rows, {}
        return [
            TrackRow(
                self.track,
                datetime.fromtimestamp(bucket * self.bucket_s, UTC),
                datetime.fromtimestamp((bucket + 1) * self.bucket_s, UTC),
                c.predictions,
                c.errors,
                tuple(c.latency),
            )
            for bucket, c in rows.items()
        ]

    def give_back(self, rows: list[TrackRow]) -> None:
        with self._lock:
            for row in rows[:MAX_PENDING_ROWS]:
                counts = _Counts(
                    predictions=row.requests, errors=row.errors, latency=list(row.latency)
                )
                self._rows.setdefault(int(row.bucket.timestamp()) // self.bucket_s, _Counts()).add(
                    counts
                )
