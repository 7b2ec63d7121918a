"""Canary rollouts on the resident pass (REL-2, REL-3, issue 10; docs/decisions/0019).

A canary's latency check compares the candidate with stable, so both must be
measured the same way. Both versions of a canary series are therefore
answered in the batch's numpy pass when the table holds stable and the
candidate is cached with a centre-and-scale detector: the routing key picks
the version exactly as the per-item path does (`routing.on_candidate`); a
stable item is a table row; a candidate item is scored on its cached
model's numbers in the same pass. Both versions' counts are held beside
the table's rows (resident_beside.py), each request one latency observation on the
scoring clock (stats_buffer.py), and handed to the statistics at the same
spill, so stable and candidate share one measure. Any other canary item
(candidate not cached yet, not this kind, a stable the table does not hold)
is answered per item, both sides alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from sigmawatch.arrays import BoolArray, FloatArray, IntArray
from sigmawatch.detectors.centre_scale import CentreScale
from sigmawatch.loading import LoadedModel
from sigmawatch.registry.rollout_records import Route
from sigmawatch.rollouts.spec import Strategy
from sigmawatch_inference.metrics import Metrics
from sigmawatch_inference.points import PointsRequest
from sigmawatch_inference.resident_beside import CountBeside, Member
from sigmawatch_inference.resident_columns import (
    CENTRE,
    END,
    KINDS,
    SCALE,
    START,
    THRESHOLD,
    Int32Array,
    of_points,
)
from sigmawatch_inference.routing import on_candidate

# A canary item on the pass, by its position among a request's items: the candidate's
# model, or None when the routing key sends it to stable (the table's row).
type Canaries = dict[int, LoadedModel | None]
# Whether the item at a position goes to its canary's candidate (routing.on_candidate).
type Side = Callable[[int, Route], bool]
type Cached = Callable[[str, int], LoadedModel | None]


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
    ok: BoolArray,
    counts: IntArray,
    scores: FloatArray,
    n_anomalies: IntArray,
    values: FloatArray,
    ms: float,
) -> None:
    """The answered rollout members' counts, beside the table's: by the candidate's
    model where it answered, else by the table's row (stable)."""
    answered = ok.tolist()
    positions = sorted(p for p in routed if answered[p])  # their points' order
    if not positions:
        return
    marked = np.zeros(counts.size, np.bool_)
    marked[positions] = True
    points = of_points(marked, counts, values.size)
    metrics.scores.observe(scores[points])
    row_of = rows.tolist()
    members: list[Member] = []
    for p in positions:
        model = routed[p]
        members.append(row_of[p] if model is None else model)
    at = np.asarray(positions)
    count_beside(members, counts[at].tolist(), n_anomalies[at].tolist(), values[points], ms)
