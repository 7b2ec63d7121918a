"""The resident table's columns: built from the registry's rows, searched by hash.

See resident.py for what the table is for; this is its layout.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np
import numpy.typing as npt

from sigmawatch.arrays import BoolArray, FloatArray, IntArray
from sigmawatch.detectors import CENTRE_SCALE
from sigmawatch.drift import N_BINS, N_EDGES
from sigmawatch.registry import CentreScaleColumns

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
# id offset, the counters, the drift bins' edges and their counts (sigmawatch.drift).
ROW_BYTES = 8 * 2 + 8 * 5 + 4 + 1 + 8 + 8 * 4 + 8 * N_EDGES + 4 * N_BINS

type Int32Array = npt.NDArray[np.int32]
type Rows = IntArray  # row numbers into the table, -1 for "not resident"


@dataclass(frozen=True, slots=True)
class Scored:
    """The items the table answered (`ok`), with per-item and per-point columns."""

    ok: BoolArray  # per item
    version: Int32Array  # per item
    kind: npt.NDArray[np.uint8]
    params: FloatArray  # per item, as resident.Columns.params
    n_anomalies: IntArray
    warned: BoolArray  # per item: its timestamps earn a warning (VAL-7)
    scores: FloatArray  # per point
    anomalies: BoolArray


def answered_points(
    rows: Rows, counts: IntArray, values: FloatArray, ok: BoolArray, scores: FloatArray
) -> tuple[Rows, FloatArray, FloatArray]:
    """Each answered point's row, value and score: what drift bins and the score
    histogram count."""
    point_rows = of_points(rows, counts, values.size)
    if ok.all():
        return point_rows, values, scores
    point_ok = of_points(ok, counts, values.size)
    return point_rows[point_ok], values[point_ok], scores[point_ok]


def of_points[T: np.generic](
    per_item: npt.NDArray[T], counts: IntArray, n_points: int
) -> npt.NDArray[T]:
    """An item's entry for each of its points (items' points back to back, `counts`
    each; `n_points` in all): as is when every item has one point."""
    return per_item if counts.size == n_points else np.repeat(per_item, counts)


def among[M](items: dict[int, M], kept: list[int]) -> dict[int, M]:
    """Shadows or canaries keyed by request position, re-keyed by position among the
    `kept` ones (each of which they must be)."""
    if not items or len(kept) == kept[-1] + 1:  # none left out: positions stay
        return items
    at = {position: k for k, position in enumerate(kept)}
    return {at[p]: model for p, model in items.items()}


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
    # N_EDGES × n training quantiles, one array per quantile (a column per row: scoring
    # gathers each quantile's row numbers contiguously); NaN for a row without drift bins.
    edges: FloatArray
    bins: npt.NDArray[np.int32]  # n × N_BINS scored values per bin, kept between flushes
    # The same buffers as memoryviews, for one row at a time: indexing one gives a
    # Python number in ~50 ns, where a numpy call on one element, ~1 µs in a loop,
    # took ~20 µs inside a request (its code no longer in the CPU's caches).
    views: _Views = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.views = _Views(self)

    @property
    def size(self) -> int:
        return int(self.h1.size)

    @property
    def nbytes(self) -> int:
        return self.size * ROW_BYTES + len(self.ids)

    def series_id(self, row: int) -> str:
        return self.ids[self.offsets[row] : self.offsets[row + 1]].decode()

    def row_of(self, series_id: str) -> int:
        """One series' row, or -1: `lookup_rows` for one id, without numpy calls."""
        v = self.views
        h1 = hash(series_id)
        row = bisect.bisect_left(v.h1, h1)
        if row >= len(v.h1) or v.h1[row] != h1 or not v.version[row]:
            return -1
        return row if v.h2[row] == hash(SALT + series_id) else -1

    def numbers(self, row: int) -> tuple[int, int, list[float]]:
        """One row's version, kind and params (THRESHOLD, CENTRE, SCALE, START, END)."""
        v = self.views
        return v.version[row], v.kind[row], [v.params[row, j] for j in range(5)]

    def count_one(self, row: int, anomaly: bool, latency_ms: float, value: float) -> None:
        """One single-point answer of `value` in the row's counters and drift bins."""
        v = self.views
        v.counts[row, POINTS] += 1.0
        v.counts[row, ANOMALIES] += float(anomaly)
        v.counts[row, REQUESTS] += 1.0
        v.counts[row, LATENCY_MS] += latency_ms
        # A row without drift bins (NaN edges) counts in bin 0; its bins are ignored.
        edges = [v.edges[q, row] for q in range(N_EDGES)]
        v.bins[row, bisect.bisect_left(edges, value)] += 1

    def lookup_rows(self, series_ids: list[str], *, retired: bool = False) -> Rows:
        """Each series' row, or -1: not in the table, or retired (unless `retired`)."""
        n = len(series_ids)
        if self.size == 0 or n == 0:
            return np.full(n, -1, np.int64)
        if n == 1 and not retired:  # one series' batch: ~10 numpy calls less
            return np.array([self.row_of(series_ids[0])], np.int64)
        wanted = np.fromiter(map(hash, series_ids), np.int64, n)
        rows = np.searchsorted(self.h1, wanted)
        np.minimum(rows, self.size - 1, out=rows)
        hit = np.flatnonzero(self.h1[rows] == wanted)
        # Usually every id is a hit: then no index list is built to confirm them.
        ids = series_ids if hit.size == n else [series_ids[i] for i in hit.tolist()]
        confirm = np.fromiter(map(hash, map(SALT.__add__, ids)), np.int64, hit.size)
        same = self.h2[rows[hit]] == confirm
        good = hit[same if retired else same & (self.version[rows[hit]] > 0)]
        found = np.full(n, -1, np.int64)
        found[good] = rows[good]
        return found


class _Views:
    """Memoryviews of a `Columns`' arrays (see `Columns.views`); they share its memory,
    so the in-place changes of either are the other's."""

    __slots__ = ("bins", "counts", "edges", "h1", "h2", "kind", "params", "version")
    # The stubs know memoryviews of bytes only; these hold float64s and int32s too.
    params: Any
    counts: Any
    edges: Any

    def __init__(self, c: Columns) -> None:
        self.h1, self.h2 = memoryview(c.h1), memoryview(c.h2)
        self.version, self.kind = memoryview(c.version), memoryview(c.kind)
        self.params, self.counts = memoryview(c.params), memoryview(c.counts)
        self.edges, self.bins = memoryview(c.edges), memoryview(c.bins)


def build(chunks: Iterable[CentreScaleColumns], max_bytes: int) -> Columns:
    """The table of the registry's rows (most used first) that fits in `max_bytes`.

    A row is left out unless its numbers score as its detector would: finite, and a
    positive scale (anything else is answered per item, with its fallback)."""
    parts: list[tuple[list[str], IntArray, npt.NDArray[Any], FloatArray]] = []
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
        quantiles = chunk.quantiles
        if quantiles is None:
            quantiles = np.full((len(ids), N_EDGES), np.nan)
        parts.append((kept, lengths[keep], numbers[:, keep], quantiles[keep]))
        if cost.size and cost[-1] > max_bytes:
            break
        used = int(cost[-1]) if cost.size else used
    ids = list(chain.from_iterable(part[0] for part in parts))
    lengths = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int64)
    numbers = np.concatenate([p[2] for p in parts], axis=1) if parts else np.zeros((7, 0))
    edges = np.concatenate([p[3] for p in parts]) if parts else np.zeros((0, N_EDGES))
    n = len(ids)
    # Every per-id step runs in load order, then numpy permutes the results: the ids'
    # strings lie in memory in that order, and walking them in hash order costs ~3×.
    h1 = np.fromiter(map(hash, ids), np.int64, n)
    h2 = np.fromiter(map(hash, map(SALT.__add__, ids)), np.int64, n)
    order = np.argsort(h1, kind="stable")
    h1, h2, numbers = h1[order], h2[order], numbers[:, order]
    edges = np.ascontiguousarray(usable_edges(edges[order]).T)
    version = numbers[0].astype(np.int32)
    same = np.flatnonzero(h1[1:] == h1[:-1])  # equal first hashes: both rows retired
    version[same] = version[same + 1] = 0
    blob, offsets = _in_order(ids, lengths, order)
    return Columns(
        h1=h1,
        h2=h2,
        params=np.ascontiguousarray(numbers[2:7].T),
        version=version,
        kind=numbers[1].astype(np.uint8),
        ids=blob,
        offsets=offsets,
        counts=np.zeros((n, 4)),
        edges=edges,
        bins=np.zeros((n, N_BINS), np.int32),
    )


def _in_order(ids: list[str], lengths: IntArray, order: IntArray) -> tuple[bytes, IntArray]:
    """The ids back to back in `order`, and where each starts (ids are ASCII)."""
    loaded = np.frombuffer("".join(ids).encode(), np.uint8)
    starts = np.cumsum(lengths) - lengths
    lengths = lengths[order]
    offsets = np.zeros(order.size + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    small = np.int32 if loaded.size < 2**31 else np.int64  # half the index's bytes
    shift = (starts[order] - offsets[:-1]).astype(small)
    at = np.repeat(shift, lengths) + np.arange(loaded.size, dtype=small)
    return loaded[at].tobytes(), offsets


def usable_edges(edges: FloatArray) -> FloatArray:
    """Rows of finite, non-decreasing quantiles; any other row becomes NaN (no bins)."""
    edges = np.array(edges, dtype=np.float64, copy=True)
    bad = ~np.isfinite(edges).all(axis=1) | (np.diff(edges, axis=1) < 0).any(axis=1)
    edges[bad] = np.nan
    return edges


EMPTY = build([], 0)


def rewrite(c: Columns, row: int, new: Columns, at: int) -> None:
    """Row `row` of `c` becomes row `at` of `new`, or is retired when `at` is -1."""
    if at < 0:
        c.version[row] = 0
        return
    c.params[row] = new.params[at]
    c.edges[:, row] = new.edges[:, at]
    c.version[row], c.kind[row] = new.version[at], new.kind[at]
