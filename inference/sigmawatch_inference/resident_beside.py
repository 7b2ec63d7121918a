"""Rollout members' answers on the resident pass, counted beside the table's rows.

Both versions of a rollout member answered on the pass (a canary's either
side, a shadow's stable) are counted per (series, version) between spills,
each request in its own latency bucket as the per-item path counts it: the
table's rows keep one mean latency a row, which would smooth the busier side
more than the other (resident_canary.py, docs/decisions/0019). A request's
members are counted together: their drift bins in one numpy pass, then a few
integer additions each, so a batch of a thousand members costs no numpy call
per member.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from sigmawatch.arrays import FloatArray, IntArray
from sigmawatch.drift import N_BINS, N_EDGES, bin_counts, bin_index_rows, expected_shares
from sigmawatch.loading import LoadedModel
from sigmawatch.rollouts.window import N_LATENCY, latency_bucket
from sigmawatch_inference.resident_columns import Columns
from sigmawatch_inference.stats_buffer import ResidentCounts, StatsBuffer

# Who answered a member's item: the candidate's cached model, or the table's row (stable).
type Member = LoadedModel | int
# Members, their points and anomalies each, their values back to back, the latency.
type CountBeside = Callable[[list[Member], list[int], list[int], FloatArray, float], None]


@dataclass(slots=True)
class _Counted:
    binned: bool  # whether the version has drift bins
    points: int = 0
    anomalies: int = 0
    latency: list[int] = field(default_factory=lambda: [0] * N_LATENCY)
    bins: list[int] = field(default_factory=lambda: [0] * N_BINS)
    edges: FloatArray | None = None  # for the training shares, once binned


def keys_and_edges(
    columns: Columns, members: Sequence[Member]
) -> tuple[list[tuple[str, int]], FloatArray]:
    """Each member's (series, version) and its drift edges (a NaN row without bins);
    a row's are read from `columns`, so the caller holds the table's lock."""
    edges = np.full((len(members), N_EDGES), np.nan)
    keys: list[tuple[str, int]] = []
    rows: list[int] = []
    at_rows: list[int] = []
    version = columns.views.version
    for j, by in enumerate(members):
        if isinstance(by, int):
            keys.append((columns.series_id(by), version[by]))
            rows.append(by)
            at_rows.append(j)
        else:
            keys.append((by.series_id, by.version))
            if by.drift_edges is not None:
                edges[j] = by.drift_edges
    if rows:
        edges[at_rows] = columns.edges[:, rows].T
    return keys, edges


def member_bins(edges: FloatArray, points: list[int], values: FloatArray) -> list[list[int]]:
    """Each member's values (back to back, `points` each) in its drift bins, counted
    as sigmawatch.drift's `bin_counts` counts one version's (members without bins
    get counts that are not used)."""
    if len(points) == 1:  # one search, no gather
        return [bin_counts(values, edges[0]).tolist()]
    of_point = np.repeat(np.arange(len(points)), points)
    found: list[list[int]] = per_member(
        of_point, bin_index_rows(values, edges[of_point]), len(points)
    ).tolist()
    return found


def per_member(of_point: IntArray, bins: IntArray, n: int) -> IntArray:
    """n × N_BINS counts of points in bins, each point its member's (`of_point`)."""
    counts: IntArray = np.bincount(of_point * N_BINS + bins, minlength=n * N_BINS)
    return counts.reshape(n, N_BINS)


class Beside:
    """The members' counts until the next spill. Not thread-safe: the table's lock
    guards it."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, int], _Counted] = {}

    def add(
        self,
        keys: list[tuple[str, int]],
        edges: FloatArray,
        points: list[int],
        anomalies: list[int],
        latency_ms: float,
        values: FloatArray,
    ) -> None:
        """One request's members (`keys_and_edges`), their points, anomalies and values."""
        bucket = latency_bucket(latency_ms)
        binned = np.isfinite(edges[:, 0]).tolist()
        bins = member_bins(edges, points, values)
        rows = self._rows
        for j, key in enumerate(keys):
            counted = rows.get(key)
            if counted is None:
                counted = rows[key] = _Counted(binned[j])
                if binned[j]:
                    counted.edges = edges[j].copy()
            counted.points += points[j]
            counted.anomalies += anomalies[j]
            counted.latency[bucket] += 1
            if counted.binned:  # the per-item path's bins (sigmawatch.drift)
                counted.bins = [a + b for a, b in zip(counted.bins, bins[j], strict=True)]

    def take(self, stats: StatsBuffer) -> tuple[list[ResidentCounts], dict[str, int]]:
        """The rows for the statistics, one a latency bucket used; and the usage."""
        rows: list[ResidentCounts] = []
        usage: dict[str, int] = {}
        for (series_id, version), c in self._rows.items():
            bins = c.bins if c.binned else None
            shares = None
            if c.edges is not None and stats.wants_shares(series_id, version):
                shares = expected_shares(c.edges)
            points, anomalies = c.points, c.anomalies
            for bucket, requests in enumerate(c.latency):
                if requests:  # the numbers ride on the first row only; rows add up
                    rows.append(
                        (series_id, version, points, anomalies, requests, bucket, bins, shares)
                    )
                    points = anomalies = 0
                    bins = shares = None
            usage[series_id] = usage.get(series_id, 0) + c.points
        self._rows = {}
        return rows, usage
