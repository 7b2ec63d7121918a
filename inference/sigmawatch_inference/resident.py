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
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
import numpy.typing as npt

from sigmawatch.arrays import FloatArray, IntArray
from sigmawatch.detectors import CENTRE_SCALE
from sigmawatch.registry import CentreScaleColumns, Registry
from sigmawatch.rollouts.window import latency_bucket
from sigmawatch_inference.stats_buffer import StatsBuffer
from sigmawatch_inference.usage import UsageCounter

log = logging.getLogger(__name__)

KINDS = tuple(CENTRE_SCALE)
# What the registry is asked for: each kind with the state names of its two numbers.
ASKED = [(kind, *CENTRE_SCALE[kind]) for kind in KINDS]
SALT = "\x01"
# Columns of `Columns.params`: one fancy-index gathers all five for a request's rows.
# The training range is exact as float64 (timestamps < 2**53).
THRESHOLD, CENTRE, SCALE, START, END = range(5)
# Columns of `Columns.counts`, kept between flushes (float64: exact to 2**53).
POINTS, ANOMALIES, REQUESTS, LATENCY_MS = range(4)
# Bytes a row costs besides its series id: 2 hashes, the parameters, version, kind,
# id offset, and the counters.
ROW_BYTES = 8 * 2 + 8 * 5 + 4 + 1 + 8 + 8 * 4

type Int32Array = npt.NDArray[np.int32]
type Rows = IntArray  # row numbers into the table, -1 for "not resident"


@dataclass(slots=True)
class Columns:
    """One snapshot of the table; rows sorted by `h1`. Version 0 marks a retired row."""

    h1: IntArray
    h2: IntArray
    params: FloatArray  # n × 5: THRESHOLD, CENTRE, SCALE, START, END
    version: Int32Array
    kind: npt.NDArray[np.uint8]
    ids: bytes  # every series id, ASCII, back to back
    offsets: IntArray  # row i's id is ids[offsets[i]:offsets[i + 1]]
    counts: FloatArray  # n × 4: POINTS, ANOMALIES, REQUESTS, LATENCY_MS

    @property
    def size(self) -> int:
        return int(self.h1.size)

    @property
    def nbytes(self) -> int:
        return self.size * ROW_BYTES + len(self.ids)

    def series_id(self, row: int) -> str:
        return self.ids[self.offsets[row] : self.offsets[row + 1]].decode()

    def lookup_rows(self, series_ids: list[str], *, retired: bool = False) -> Rows:
        """Each series' row, or -1: not in the table, or retired (unless `retired`)."""
        n = len(series_ids)
        if self.size == 0 or n == 0:
            return np.full(n, -1, np.int64)
        wanted = np.array(list(map(hash, series_ids)), np.int64)
        rows = np.searchsorted(self.h1, wanted)
        np.minimum(rows, self.size - 1, out=rows)
        hit = np.flatnonzero(self.h1[rows] == wanted)
        confirm = np.array([hash(SALT + series_ids[i]) for i in hit.tolist()], np.int64)
        same = self.h2[rows[hit]] == confirm
        good = hit[same if retired else same & (self.version[rows[hit]] > 0)]
        found = np.full(n, -1, np.int64)
        found[good] = rows[good]
        return found


def build(chunks: Iterable[CentreScaleColumns], max_bytes: int) -> Columns:
    """The table of the registry's rows (most used first) that fits in `max_bytes`.

    A row is left out unless its numbers score as its detector would: finite, and a
    positive scale (anything else is answered per item, with its fallback)."""
    parts: list[tuple[list[str], npt.NDArray[Any]]] = []
    used = 0
    for chunk in chunks:
        numbers = np.array(
            [
                chunk.versions,
                chunk.kinds,
                chunk.thresholds,
                chunk.centres,
                chunk.scales,
                chunk.training_starts,
                chunk.training_ends,
            ],
            np.float64,
        )  # 7 × n; versions, kinds and timestamps stay exact in float64 (< 2**53)
        lengths = np.fromiter(map(len, chunk.series_ids), np.int64, len(chunk.series_ids))
        good = np.isfinite(numbers[2:5]).all(axis=0) & (numbers[4] > 0.0)  # scale
        cost = used + np.cumsum(np.where(good, ROW_BYTES + lengths, 0))
        keep = good & (cost <= max_bytes)
        ids = chunk.series_ids
        kept = ids if keep.all() else [ids[i] for i in np.flatnonzero(keep).tolist()]
        parts.append((kept, numbers[:, keep]))
        if cost.size and cost[-1] > max_bytes:
            break
        used = int(cost[-1]) if cost.size else used
    ids = list(chain.from_iterable(part for part, _ in parts))
    numbers = np.concatenate([n for _, n in parts], axis=1) if parts else np.zeros((7, 0))
    n = len(ids)
    h1 = np.fromiter(map(hash, ids), np.int64, n)
    order = np.argsort(h1, kind="stable")
    h1, numbers = h1[order], numbers[:, order]
    ids = list(map(ids.__getitem__, order.tolist()))
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(np.fromiter(map(len, ids), np.int64, n), out=offsets[1:])  # ids are ASCII
    version = numbers[0].astype(np.int32)
    same = np.flatnonzero(h1[1:] == h1[:-1])  # equal first hashes: both rows retired
    version[same] = version[same + 1] = 0
    return Columns(
        h1=h1,
        h2=np.fromiter(map(hash, map(SALT.__add__, ids)), np.int64, n),
        params=np.ascontiguousarray(numbers[2:7].T),
        version=version,
        kind=numbers[1].astype(np.uint8),
        ids="".join(ids).encode(),
        offsets=offsets,
        counts=np.zeros((n, 4)),
    )


EMPTY = build([], 0)


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
            limit = self.max_bytes // ROW_BYTES + 1
            columns = build(registry.centre_scale_states(ASKED, limit), self.max_bytes)
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

    def gather(self, rows: Rows) -> Gathered:
        with self._lock:
            c = self._columns
            return Gathered(c.version[rows], c.kind[rows], c.params[rows])

    def count(self, rows: Rows, points: IntArray, anomalies: IntArray, latency_ms: float) -> None:
        """Each answered item's row gains its points and anomalies (rows may repeat)."""
        bucket = self._now_bucket()
        with self._lock:
            if bucket != self._bucket:
                self._spill()
                self._bucket = bucket
            added = np.empty((rows.size, 4))
            added[:, POINTS], added[:, ANOMALIES] = points, anomalies
            added[:, REQUESTS], added[:, LATENCY_MS] = 1.0, latency_ms
            np.add.at(self._columns.counts, rows, added)

    def spill(self) -> None:
        """Hand the counts to the statistics and usage buffers (before each flush)."""
        with self._lock:
            self._spill()

    def _spill(self) -> None:
        c = self._columns
        touched = np.flatnonzero(c.counts[:, REQUESTS])
        if touched.size == 0:
            return
        rows = []
        usage: dict[str, int] = {}
        for row, (points, anomalies, requests, ms) in zip(
            touched.tolist(), c.counts[touched].tolist(), strict=True
        ):
            series_id = c.series_id(row)
            latency = latency_bucket(ms / requests)
            rows.append(
                (
                    series_id,
                    int(c.version[row]),
                    int(points),
                    int(anomalies),
                    int(requests),
                    latency,
                )
            )
            usage[series_id] = int(points)
        c.counts[touched] = 0.0
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
                _rewrite(c, row, now, new)
        return len(present)

    def _now_bucket(self) -> int:
        return int(time.time()) // self.stats.bucket_s


def _rewrite(c: Columns, row: int, new: Columns, at: int) -> None:
    """Row `row` of `c` becomes row `at` of `new`, or is retired when `at` is -1."""
    if at < 0:
        c.version[row] = 0
        return
    c.params[row] = new.params[at]
    c.version[row], c.kind[row] = new.version[at], new.kind[at]
