"""Canary rollouts on the resident pass (REL-2, REL-3, issue 10; docs/decisions/0019).

A canary's latency check compares the candidate with stable, so both must be
measured the same way. Both versions of a canary series are therefore
answered in the batch's numpy pass when the table holds stable and the
candidate is cached with a centre-and-scale detector: the routing key picks
the version exactly as the per-item path does (`routing.on_candidate`); a
stable item is a table row; a candidate item is scored on its cached
model's numbers in the same pass. Both versions' counts are held beside
the table's rows (`Beside`), each request one latency observation on the
scoring clock (stats_buffer.py), and handed to the statistics at the same
spill, so stable and candidate share one measure. Any other canary item
(candidate not cached yet, not this kind, a stable the table does not hold)
is answered per item, both sides alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from sigmawatch.arrays import FloatArray, IntArray
from sigmawatch.detectors.centre_scale import CentreScale
from sigmawatch.drift import N_BINS, bin_counts, expected_shares
from sigmawatch.loading import LoadedModel
from sigmawatch.registry.rollout_records import Route
from sigmawatch.rollouts.spec import Strategy
from sigmawatch.rollouts.window import N_LATENCY, latency_bucket
from sigmawatch_inference.metrics import Metrics
from sigmawatch_inference.points import PointsRequest
from sigmawatch_inference.resident_columns import (
    CENTRE,
    END,
    KINDS,
    SCALE,
    START,
    THRESHOLD,
    Int32Array,
)
from sigmawatch_inference.routing import on_candidate
from sigmawatch_inference.stats_buffer import ResidentCounts, StatsBuffer

# A canary item on the pass, by its position among a request's items: the candidate's
# model, or None when the routing key sends it to stable (the table's row).
type Canaries = dict[int, LoadedModel | None]
# Whether the item at a position goes to its canary's candidate (routing.on_candidate).
type Side = Callable[[int, Route], bool]
type Cached = Callable[[str, int], LoadedModel | None]
# A routed answer to count: by the candidate's model or the table's row, its points,
# anomalies and values; counted with their latency by `ResidentTable.count_beside`.
type Answered = tuple[LoadedModel | int, int, int, FloatArray]
type CountBeside = Callable[[list[Answered], float], None]


def answers_as_table(model: LoadedModel | None) -> bool:
    """Whether the pass can answer for this model exactly as its own `score` would."""
    return (
        model is not None
        and model.load_error is None
        and isinstance(model.detector, CentreScale)
        and model.kind in KINDS
        and set(model.detector.params) == {"threshold"}
    )


def numbers(model: LoadedModel) -> tuple[float, float, float, float, float]:
    """The candidate's row as the table would hold it: THRESHOLD … END."""
    detector = model.detector
    assert isinstance(detector, CentreScale)
    start, end = model.training_range
    return detector.threshold, detector.centre, detector.scale, float(start), float(end)


def override(
    canaries: Canaries, params: FloatArray, version: Int32Array, kind: npt.NDArray[np.uint8]
) -> None:
    """Candidate items take their model's numbers in the gathered columns (copies)."""
    for p, model in canaries.items():
        if model is not None:
            params[p, [THRESHOLD, CENTRE, SCALE, START, END]] = numbers(model)
            version[p] = model.version
            kind[p] = KINDS.index(model.kind)


@dataclass(slots=True)
class _Counted:
    edges: FloatArray | None  # the version's drift bin edges, None without bins
    points: int = 0
    anomalies: int = 0
    latency: list[int] = field(default_factory=lambda: [0] * N_LATENCY)
    bins: list[int] = field(default_factory=lambda: [0] * N_BINS)


class Beside:
    """Answers of rollout members on the pass, either version, counted per (series,
    version) between spills, each request in its own latency bucket as the per-item
    path counts it: the table's rows keep one mean latency a row, which would smooth
    the busier side more than the other. Not thread-safe: the table's lock guards it."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, int], _Counted] = {}

    def add(
        self,
        key: tuple[str, int],
        edges: FloatArray | None,
        points: int,
        anomalies: int,
        latency_ms: float,
        values: FloatArray,
    ) -> None:
        counted = self._rows.get(key)
        if counted is None:
            counted = self._rows[key] = _Counted(edges)
        counted.points += points
        counted.anomalies += anomalies
        counted.latency[latency_bucket(latency_ms)] += 1
        if counted.edges is not None:  # the per-item path's bins (sigmawatch.drift)
            for b, n in enumerate(bin_counts(values, counted.edges).tolist()):
                counted.bins[b] += n

    def take(self, stats: StatsBuffer) -> tuple[list[ResidentCounts], dict[str, int]]:
        """The rows for the statistics, one a latency bucket used; and the usage."""
        rows: list[ResidentCounts] = []
        usage: dict[str, int] = {}
        for (series_id, version), c in self._rows.items():
            bins = c.bins if c.edges is not None else None
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


def count_points(metrics: Metrics, canaries: Canaries, ok: np.ndarray, counts: IntArray) -> None:
    """The answered canary items' points by side, as the per-item path counts them."""
    on_candidate = on_stable = 0
    for p, model in canaries.items():
        if ok[p]:
            if model is None:
                on_stable += int(counts[p])
            else:
                on_candidate += int(counts[p])
    if on_stable:
        metrics.rollout_points.add("stable", on_stable)
    if on_candidate:
        metrics.rollout_points.add("candidate", on_candidate)


def item_sides(items: Sequence[PointsRequest]) -> Side:
    """Whether the item at a position goes to its canary's candidate: as predictor.py
    decides it, on the item's first timestamp or the client's routing key."""
    return lambda i, route: on_candidate(
        route, items[i].series_id, int(items[i].timestamps[0]), items[i].route_key
    )


def column_sides(series_ids: Sequence[str], timestamps: IntArray, key: str | None) -> Side:
    """`item_sides` for the rows of a columns request (one point a row)."""
    return lambda i, route: on_candidate(route, series_ids[i], int(timestamps[i]), key)


def canary_one(
    request: PointsRequest, route: Route, resident: int, cached: Cached
) -> LoadedModel | bool | None:
    """A routed single point: None for stable's table row, the candidate's cached
    model, or False when the per-item path must answer."""
    if route.strategy is not Strategy.CANARY or resident != route.stable:
        return False
    first = int(request.timestamps[0])
    if not on_candidate(route, request.series_id, first, request.route_key):
        return None
    model = cached(request.series_id, route.candidate)
    return model if answers_as_table(model) else False


def count_routed(
    count_beside: CountBeside,
    metrics: Metrics,
    routed: dict[int, LoadedModel | None],
    rows: IntArray,
    ok: np.ndarray,
    counts: IntArray,
    scores: FloatArray,
    n_anomalies: IntArray,
    values: FloatArray,
    ms: float,
) -> None:
    """The answered rollout members' counts, beside the table's: by the candidate's
    model where it answered, else by the table's row (stable)."""
    ends = np.cumsum(counts)
    answers: list[Answered] = []
    for p, model in routed.items():
        if ok[p]:
            points = slice(int(ends[p] - counts[p]), int(ends[p]))
            metrics.scores.observe(scores[points])
            by = int(rows[p]) if model is None else model
            answers.append((by, int(counts[p]), int(n_anomalies[p]), values[points]))
    count_beside(answers, ms)
