"""The resident model table: every parametric production model of the fleet, in columns.

z-score and MAD score a point with three numbers (centre, scale,
threshold), so a pod keeps them for every series it can afford, read in
bulk from the registry's rows at start-up, and scores a fleet-shaped batch
in one numpy pass (resident_path.py) instead of one cache lookup and a
dozen one-element numpy calls per series (issue 10).

- The index is two sorted int64 columns, not a Python object per model:
  `hash(series_id)` to search, `hash(SALT + series_id)` to confirm, so a
  series not in the table is never taken for one that is (a false match
  needs both 64-bit keyed hashes to collide). Hashes are per process; two
  processes agree on answers, not on hashes. Rows whose first hash collides
  inside the table are left out: those series go through the cache.
- Past `SIGMAWATCH_RESIDENT_MAX_BYTES` the most-used series stay (the
  registry hands them over most used first) and the rest use the cache.
- A change to a resident series (notification or refresh) rewrites its row
  in place, or retires it; a series that becomes servable after the load
  uses the cache until the next reload (`SIGMAWATCH_RESIDENT_RELOAD_S`).
- Each row counts its predictions until the statistics flush turns them into
  the same per-version rows the per-item path writes (stats_buffer.py).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from sigmawatch.arrays import FloatArray, IntArray
from sigmawatch.drift import N_BINS, expected_shares_rows
from sigmawatch.registry import Registry
from sigmawatch.rollouts.window import latency_bucket
from sigmawatch_inference.resident_beside import Beside, Member, keys_and_edges
from sigmawatch_inference.resident_columns import (
    ANOMALIES,
    ASKED,
    EMPTY,
    LATENCY_MS,
    POINTS,
    REQUESTS,
    ROW_BYTES,
    Int32Array,
    Rows,
    build,
    rewrite,
)
from sigmawatch_inference.stats_buffer import StatsBuffer, now_bucket
from sigmawatch_inference.usage import UsageCounter

log = logging.getLogger(__name__)

ONE = np.int32(1)
COUNT_COLUMNS = np.arange(4)


def flat(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """The array as one dimension, a view of its memory (never a copy)."""
    return np.reshape(array, -1, copy=False)


@dataclass(frozen=True, slots=True)
class Gathered:
    """What scoring needs of some rows, copied out under the lock."""

    version: Int32Array
    kind: npt.NDArray[np.uint8]
    params: FloatArray  # k × 5, as Columns.params


class ResidentTable:
    def __init__(self, stats: StatsBuffer, usage: UsageCounter, max_bytes: int) -> None:
        self.stats = stats
        self.usage = usage
        self.max_bytes = max_bytes
        self.loaded_at: float | None = None
        self._columns = EMPTY
        self._beside = Beside()  # rollout members' answers (resident_beside.py)
        self._bucket = self._now_bucket()
        # Guards in-place row changes, the counters, and the swap to a reloaded table.
        self._lock = threading.Lock()
        self._reloading: set[str] | None = None  # series changed while a reload reads

    @property
    def size(self) -> int:
        """Rows that answer (retired rows excluded)."""
        return int(np.count_nonzero(self._columns.version))

    @property
    def nbytes(self) -> int:
        return self._columns.nbytes

    def load(self, registry: Registry) -> int:
        """Read every resident-able production version and swap the table in; returns rows."""
        if self.max_bytes <= 0:
            return 0
        with self._lock:
            self._reloading = set()
        try:
            # When every served series fits, none is left out: read them in any order
            # (no sort: half the read at 1M). Otherwise most used first, up to the budget.
            served, chars = registry.served_footprint()
            everyone = served * ROW_BYTES + chars <= self.max_bytes
            limit = served if everyone else self.max_bytes // ROW_BYTES + 1
            chunks = registry.centre_scale_states(ASKED, limit, ordered=not everyone)
            columns = build(chunks, self.max_bytes)
        finally:
            with self._lock:
                changed, self._reloading = self._reloading, None
        with self._lock:
            self._spill()
            self._columns = columns
        self.loaded_at = time.time()
        if changed:  # read before the swap, maybe before their change: read them again
            self.changed(registry, sorted(changed))
        return self.size

    def lookup(self, series_ids: list[str], *, retired: bool = False) -> Rows:
        """Each series' row, or -1 when it is not resident (or `retired` and its row is)."""
        return self._columns.lookup_rows(series_ids, retired=retired)

    def versions(self) -> Any:
        """Each row's version: a memoryview of the current table's column, whose
        items are Python ints without a numpy call each."""
        return self._columns.views.version

    def row(self, series_id: str) -> tuple[int, int, int, list[float]] | None:
        """(row, version, kind, params as floats) of one resident series, or None."""
        with self._lock:
            c = self._columns
            row = c.row_of(series_id)
            if row < 0:
                return None
            return row, *c.numbers(row)

    def count_one(self, row: int, anomaly: bool, latency_ms: float, value: float) -> None:
        """`count` for one single-point answer of `value`."""
        bucket = self._now_bucket()
        with self._lock:
            self._enter_bucket(bucket)
            self._columns.count_one(row, anomaly, latency_ms, value)

    def gather(self, rows: Rows) -> Gathered:
        with self._lock:
            c = self._columns
            return Gathered(c.version[rows], c.kind[rows], c.params[rows])

    def count(
        self,
        rows: Rows,
        points: IntArray,
        anomalies: IntArray,
        latency_ms: float,
        drift: tuple[Rows, IntArray] | None = None,
    ) -> None:
        """Each answered item's row gains its points and anomalies (rows may repeat);
        `drift` is each answered point's row and drift bin."""
        bucket = self._now_bucket()
        with self._lock:
            self._enter_bucket(bucket)
            c = self._columns
            added = np.empty((rows.size, 4))
            added[:, POINTS], added[:, ANOMALIES] = points, anomalies
            added[:, REQUESTS], added[:, LATENCY_MS] = 1.0, latency_ms
            # On the flat cells: np.add.at of rows of a 2-D array is ~3× slower.
            cells = (rows * 4)[:, None] + COUNT_COLUMNS
            np.add.at(flat(c.counts), cells.reshape(-1), added.reshape(-1))
            if drift is not None:
                point_rows, point_bins = drift
                # An int32 one: a Python 1 sends np.add.at down a path 20× slower.
                np.add.at(flat(c.bins), point_rows * N_BINS + point_bins, ONE)

    def count_beside(
        self,
        members: list[Member],
        points: list[int],
        anomalies: list[int],
        values: FloatArray,
        latency_ms: float,
    ) -> None:
        """Rollout members' answers, by candidate model or table row (resident_beside.py):
        their points and anomalies each, and their values back to back."""
        bucket = self._now_bucket()
        with self._lock:
            self._enter_bucket(bucket)
            keys, edges = keys_and_edges(self._columns, members)
            self._beside.add(keys, edges, points, anomalies, latency_ms, values)

    def bin_points(self, rows: Rows, values: FloatArray, *, one_row: bool = False) -> IntArray:
        """Each value's drift bin against its row's edges: how many edges lie below it
        (a row without drift bins gives 0, and is ignored when spilled). `one_row`: every
        value is of `rows[0]`, whose sorted edges one search answers (NaN sorts last)."""
        with self._lock:
            edges = self._columns.edges
            if one_row and rows.size:
                return np.searchsorted(edges[:, rows[0]], values, side="left")
            index = np.zeros(values.size, np.uint8)  # bytes: 7 sums cost less than int64
            for quantile in edges:
                index += quantile[rows] < values
        return index.astype(np.int64)

    def spill(self) -> None:
        """Hand the counts to the statistics and usage buffers (before each flush)."""
        with self._lock:
            self._spill()

    def _spill(self) -> None:
        c = self._columns
        touched = np.flatnonzero(c.counts[:, REQUESTS])
        rows, usage = self._beside.take(self.stats)
        if touched.size == 0:
            if rows:
                self.stats.add_counts(self._bucket, rows)
                self.usage.add_many(usage)
            return
        edges = c.edges[:, touched].T
        binned = np.isfinite(edges[:, 0])
        all_shares = expected_shares_rows(edges).tolist()
        for row, (points, anomalies, requests, ms), bins, has_bins, row_shares in zip(
            touched.tolist(),
            c.counts[touched].tolist(),
            c.bins[touched].tolist(),
            binned.tolist(),
            all_shares,
            strict=True,
        ):
            series_id = c.series_id(row)
            version = int(c.version[row])
            latency = latency_bucket(ms / requests)
            shares = None
            if has_bins and self.stats.wants_shares(series_id, version):
                shares = tuple(row_shares)
            rows.append(
                (
                    series_id,
                    version,
                    int(points),
                    int(anomalies),
                    int(requests),
                    latency,
                    bins if has_bins else None,
                    shares,
                )
            )
            usage[series_id] = usage.get(series_id, 0) + int(points)
        c.counts[touched] = 0.0
        c.bins[touched] = 0
        self.stats.add_counts(self._bucket, rows)
        self.usage.add_many(usage)

    def changed(self, registry: Registry, series_ids: list[str]) -> int:
        """Re-read the production versions of changed series; returns the rows rewritten."""
        with self._lock:
            if self._reloading is not None:
                self._reloading.update(series_ids)
        rows = self.lookup(series_ids, retired=True)
        present = [(s, int(r)) for s, r in zip(series_ids, rows.tolist(), strict=True) if r >= 0]
        if not present:
            return 0
        ids = [s for s, _ in present]
        now = build(registry.centre_scale_states(ASKED, len(ids), series_ids=ids), 2**62)
        found = now.lookup_rows(ids)
        with self._lock:
            self._spill()  # the counts so far belong to the version the row held
            c = self._columns
            for (_, row), new in zip(present, found.tolist(), strict=True):
                rewrite(c, row, now, new)
        return len(present)

    def _enter_bucket(self, bucket: int) -> None:
        """Under the lock: counts of an earlier time bucket are spilled before new ones."""
        if bucket != self._bucket:
            self._spill()
            self._bucket = bucket

    def _now_bucket(self) -> int:
        return now_bucket(self.stats.bucket_s)
