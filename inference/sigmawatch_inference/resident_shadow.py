"""Shadow rollouts on the resident pass (REL-1, issue 10).

A series in a shadow rollout is answered by its stable version and scored
by its candidate beside it. When stable is the version the resident table
holds (the usual case: production) and the candidate is in the model cache
with a centre-and-scale detector, both happen in the batch's numpy pass:
the table answers, the candidates' numbers are gathered from their cached
models and scored in one more pass, and each candidate's agreement goes to
the statistics as the per-item path records it (`Predictor._shadow`). Any
other routed series (a candidate not cached yet, a stable that is not the
table's version) is answered per item, which also loads the candidate for
the next request; canaries are resident_canary.py's.
"""

from __future__ import annotations

import numpy as np

from sigmawatch.arrays import BoolArray, FloatArray, IntArray
from sigmawatch.detectors.centre_scale import CentreScale, distance
from sigmawatch.drift import N_EDGES, bin_index_rows
from sigmawatch.loading import LoadedModel
from sigmawatch.rollouts.spec import Strategy
from sigmawatch_inference.metrics import Metrics
from sigmawatch_inference.resident import ResidentTable
from sigmawatch_inference.resident_beside import per_member
from sigmawatch_inference.resident_canary import Cached, Canaries, Side, answers_as_table
from sigmawatch_inference.resident_columns import Rows
from sigmawatch_inference.routing import RoutingTable
from sigmawatch_inference.stats_buffer import StatsBuffer, scoring_clock


def route_rows(
    rows: Rows,
    series_ids: list[str],
    routing: RoutingTable,
    table: ResidentTable,
    cached: Cached,
    side: Side | None = None,
) -> tuple[dict[int, LoadedModel], Canaries]:
    """Rows of routed series: kept where the pass can do the shadow or the canary
    (resident_canary.py; `side` tells whether an item's routing key picks the
    candidate), else set to -1. Returns the shadow candidates scored beside the
    table's answer, and the canary items, by request position."""
    shadows: dict[int, LoadedModel] = {}
    canaries: Canaries = {}
    route_of = routing.route
    row_of = rows.tolist()
    version_of = table.versions()
    off: list[int] = []
    for i, series_id in enumerate(series_ids):
        row = row_of[i]
        if row < 0:
            continue
        route = route_of(series_id)
        if route is None:
            continue
        if version_of[row] == route.stable:
            if route.strategy is Strategy.SHADOW:
                candidate = cached(series_id, route.candidate)
                if _scorable(candidate):
                    shadows[i] = candidate  # type: ignore[assignment]  # not None
                    continue
            elif side is not None:
                if not side(i, route):
                    canaries[i] = None  # stable: the table's row answers
                    continue
                candidate = cached(series_id, route.candidate)
                if answers_as_table(candidate):
                    canaries[i] = candidate
                    continue
        off.append(i)
    if off:
        rows[off] = -1
    return shadows, canaries


def _scorable(candidate: LoadedModel | None) -> bool:
    return (
        candidate is not None
        and candidate.load_error is None
        and isinstance(candidate.detector, CentreScale)
    )


def score_shadows(
    shadows: dict[int, LoadedModel],
    answered: BoolArray,
    counts: IntArray,
    values: FloatArray,
    anomalies: BoolArray,
    stats: StatsBuffer,
    metrics: Metrics,
) -> None:
    """Score the answered items' candidates (items keyed by their position among the
    scored ones) on the same points, and record how often each agrees with stable."""
    positions = [p for p in shadows if answered[p]]
    if not positions:
        return
    started = scoring_clock()
    models = [shadows[p] for p in positions]
    numbers = np.array(
        [(m.detector.centre, m.detector.scale, m.detector.threshold) for m in models]  # type: ignore[union-attr]
    )
    which = np.full(counts.size, -1, np.int64)
    which[positions] = np.arange(len(positions))
    of_point = which if counts.size == values.size else np.repeat(which, counts)
    mask = of_point >= 0
    k = of_point[mask]
    with np.errstate(all="ignore"):
        scores = distance(values[mask], numbers[k, 0], numbers[k, 1])
    flagged = scores > numbers[k, 2]
    agreed = flagged == anomalies[mask]
    broken = ~np.isfinite(scores)
    n = len(positions)
    points = counts[positions]
    flagged_n = np.bincount(k, weights=flagged, minlength=n).astype(np.int64)
    agreed_n = np.bincount(k, weights=agreed, minlength=n).astype(np.int64)
    ms = (scoring_clock() - started) * 1000.0 / n
    if broken.any():  # a non-finite score: that candidate answers with its fallback
        for j in np.unique(k[broken]).tolist():
            picked = values[mask][k == j]
            again = models[j].score(picked)
            flagged_n[j] = int(np.count_nonzero(again.anomalies))
            agreed_n[j] = int(np.count_nonzero(again.anomalies == anomalies[mask][k == j]))
    bins = _drift_bins(models, k, values[mask]).tolist()
    points_of, flagged_of, agreed_of = points.tolist(), flagged_n.tolist(), agreed_n.tolist()
    counted = []
    for j, model in enumerate(models):
        binned = model.drift_edges is not None
        shares = model.drift_shares if binned and stats.wants_shares(*_key(model)) else None
        counted.append(
            (
                model.series_id,
                model.version,
                points_of[j],
                flagged_of[j],
                agreed_of[j],
                bins[j] if binned else None,
                shares,
            )
        )
    stats.shadowed(counted, ms)
    total, agree = int(points.sum()), int(agreed_n.sum())
    metrics.rollout_points.add("stable", total)
    metrics.rollout_points.add("shadow", total)
    metrics.shadow_comparisons.add("agreed", agree)
    if total > agree:
        metrics.shadow_comparisons.add("disagreed", total - agree)


def _key(model: LoadedModel) -> tuple[str, int]:
    return model.series_id, model.version


def _drift_bins(models: list[LoadedModel], k: IntArray, values: FloatArray) -> IntArray:
    """Each candidate's scored values in its drift bins (OBS-2), as the per-item path
    counts a shadow's: one pass over the points, against each point's candidate's edges
    (a candidate without bins gets NaN edges, and its counts are not used)."""
    none = np.full(N_EDGES, np.nan)
    edges = np.concatenate([none if m.drift_edges is None else m.drift_edges for m in models])
    edges = edges.reshape(len(models), N_EDGES)
    return per_member(k, bin_index_rows(values, edges[k]), len(models))
