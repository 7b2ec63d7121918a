"""Scoring many series in one numpy pass, from the resident table (issue 10).

Only what the table answers exactly as the per-item path would takes this
path: production requests (no version) of resident series, unrouted or in a
shadow or canary rollout it can score (resident_shadow.py,
resident_canary.py), with every point valid and every score finite.
Everything else, so every error and fallback, is left to the per-item path
(predictor.py), which makes both paths answer bit for bit alike: the same
float64 operations (`centre_scale.distance`) on the same numbers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from sigmawatch import tracing
from sigmawatch.arrays import FloatArray, IntArray
from sigmawatch.detectors.centre_scale import distance
from sigmawatch.errors import SigmawatchError
from sigmawatch.loading import LoadedModel
from sigmawatch.time_warnings import range_warnings
from sigmawatch_inference.metrics import Metrics
from sigmawatch_inference.points import PointsRequest, Prediction
from sigmawatch_inference.resident import ResidentTable
from sigmawatch_inference.resident_canary import (
    Cached,
    Canaries,
    Side,
    canary_one,
    count_points,
    count_routed,
    item_sides,
    numbers,
    override,
)
from sigmawatch_inference.resident_columns import (
    CENTRE,
    END,
    KINDS,
    SCALE,
    START,
    THRESHOLD,
    Rows,
    Scored,
    among,
    answered_points,
)
from sigmawatch_inference.resident_shadow import route_rows, score_shadows
from sigmawatch_inference.resident_spans import record_one, record_pass
from sigmawatch_inference.routing import RoutingTable
from sigmawatch_inference.settings import ServiceSettings
from sigmawatch_inference.stats_buffer import StatsBuffer, scoring_clock


class ResidentPath:
    def __init__(
        self,
        table: ResidentTable,
        routing: RoutingTable,
        settings: ServiceSettings,
        metrics: Metrics,
        stats: StatsBuffer,
        cached: Cached,
    ) -> None:
        self.table = table
        self.routing = routing
        self.settings = settings
        self.metrics = metrics
        self.stats = stats
        self.cached = cached

    def rows(
        self, series_ids: list[str], side: Side | None = None
    ) -> tuple[Rows, dict[int, LoadedModel], Canaries]:
        """Each series' row, or -1 where the table must not answer (not resident, or
        routed other than as a shadow or canary it can score: resident_shadow.py; no
        canary without `side`); and the shadow candidates and canary items, by
        request position."""
        rows = self.table.lookup(series_ids)
        if not self.routing.series:
            return rows, {}, {}
        routed = route_rows(rows, series_ids, self.routing, self.table, self.cached, side)
        return rows, *routed

    def score(
        self,
        rows: Rows,
        counts: IntArray,
        timestamps: IntArray,
        values: FloatArray,
        shadows: dict[int, LoadedModel] | None = None,
        canaries: Canaries | None = None,
    ) -> Scored:
        """Score items of `counts` points each (all > 0), back to back in the arrays;
        `shadows` are candidates to score beside them, and `canaries` the canary items
        (a candidate answers for those it holds), by position among the items."""
        with tracing.child("model.score") as span:
            scored = self._score(rows, counts, timestamps, values, shadows, canaries)
            record_pass(span, values, scored)
            return scored

    def _score(
        self,
        rows: Rows,
        counts: IntArray,
        timestamps: IntArray,
        values: FloatArray,
        shadows: dict[int, LoadedModel] | None,
        canaries: Canaries | None,
    ) -> Scored:
        started = scoring_clock()
        g = self.table.gather(rows)
        if canaries:  # candidate items take their models' numbers
            override(canaries, g.params, g.version, g.kind)
        single = counts.size == values.size  # one point an item: no reductions
        starts = None if single else np.concatenate(([0], np.cumsum(counts)[:-1]))

        def per_item(points: npt.NDArray[Any], reduce: np.ufunc) -> npt.NDArray[Any]:
            return points if starts is None else reduce.reduceat(points, starts)

        if counts.size == 1:  # one series' points: its numbers broadcast as scalars
            centre, scale, threshold = (
                g.params[0, CENTRE],
                g.params[0, SCALE],
                g.params[0, THRESHOLD],
            )
        else:
            per_point = g.params[:, :3] if single else np.repeat(g.params[:, :3], counts, axis=0)
            centre, scale = per_point[:, CENTRE], per_point[:, SCALE]
            threshold = per_point[:, THRESHOLD]
        s = self.settings
        with np.errstate(all="ignore"):
            scores = distance(values, centre, scale)
        anomalies = scores > threshold
        good = (timestamps > 0) & np.isfinite(scores)
        good &= (values >= s.value_min) & (values <= s.value_max)
        # VAL-7 looks at each item's earliest and latest timestamp only.
        lo, hi = per_item(timestamps, np.minimum), per_item(timestamps, np.maximum)
        now = time.time()
        gap = s.training_gap_tolerance_s
        warned = (hi > now + s.future_tolerance_s) | (lo < now - s.past_tolerance_s)
        warned |= (lo < g.params[:, START] - gap) | (hi > g.params[:, END] + gap)
        flagged = anomalies.astype(np.int64)
        n_anomalies = per_item(flagged, np.add)
        ok = per_item(good, np.logical_and) & (g.version > 0)
        scored = Scored(
            ok=ok,
            version=g.version,
            kind=g.kind,
            params=g.params,
            n_anomalies=n_anomalies,
            warned=warned,
            scores=scores,
            anomalies=anomalies,
        )
        if shadows:
            score_shadows(shadows, ok, counts, values, anomalies, self.stats, self.metrics)
        if canaries:
            count_points(self.metrics, canaries, ok, counts)
        answered = np.flatnonzero(ok)
        if answered.size:
            ms = (scoring_clock() - started) * 1000.0 / rows.size
            on_table = ok
            if shadows or canaries:  # rollout members: counted beside, resident_canary.py
                routed = dict.fromkeys(shadows or {}) | (canaries or {})
                on_table = ok.copy()
                on_table[list(routed)] = False
                count_routed(
                    self.table.count_beside, self.metrics, routed, rows, ok, counts,
                    scores, n_anomalies, values, ms,
                )  # fmt: skip
            point_rows, answered_values, answered_scores = answered_points(
                rows, counts, values, on_table, scores
            )
            self.metrics.scores.observe(answered_scores)
            one_row = counts.size == 1
            drift = point_rows, self.table.bin_points(point_rows, answered_values, one_row=one_row)
            mine = np.flatnonzero(on_table)
            self.table.count(rows[mine], counts[mine], n_anomalies[mine], ms, drift)
            self.metrics.resident_answers.inc(int(answered.size))
        return scored

    def warnings(self, scored: Scored, item: int, timestamps: IntArray) -> list[dict[str, Any]]:
        if not scored.warned[item]:
            return []
        start, end = scored.params[item, START], scored.params[item, END]
        return self._warnings(int(timestamps.min()), int(timestamps.max()), start, end)

    def _warnings(self, lo: int, hi: int, start: float, end: float) -> list[dict[str, Any]]:
        """VAL-7's warnings against a version's training range (kept as float64)."""
        return range_warnings(
            lo, hi, now=time.time(), training_range=(int(start), int(end)), settings=self.settings
        )

    def answer_one(self, request: PointsRequest) -> Prediction | None:
        """The single-point route's answer from the table, or None to go per item.

        Python floats, not numpy: one point costs a dozen numpy calls otherwise, and
        IEEE-754 double subtraction, abs and division give the same bits either way."""
        if request.version is not None or request.values.size != 1:
            return None
        found = self.table.row(request.series_id)
        if found is None:
            return None
        route = self.routing.route(request.series_id)
        candidate = None if route is None else canary_one(request, route, found[1], self.cached)
        if candidate is False:
            return None
        started = scoring_clock()
        row, version, kind, (threshold, centre, scale, start, end) = found
        if isinstance(candidate, LoadedModel):  # resident_canary.py
            threshold, centre, scale, start, end = numbers(candidate)
            version, kind = candidate.version, KINDS.index(candidate.kind)
        s = self.settings
        value, timestamp = float(request.values[0]), int(request.timestamps[0])
        if timestamp <= 0 or not s.value_min <= value <= s.value_max:
            return None  # the per-item path answers with the error
        score = abs(value - centre) / scale
        if not math.isfinite(score):
            return None
        anomaly = score > threshold
        ms = (scoring_clock() - started) * 1000.0
        if route is None:
            self.table.count_one(row, anomaly, ms, value)
        else:  # a canary member, either side: counted beside (resident_canary.py)
            by = candidate if isinstance(candidate, LoadedModel) else row
            self.table.count_beside([by], [1], [int(anomaly)], request.values, ms)
            self.metrics.rollout_points.add("stable" if candidate is None else "candidate", 1)
        self.metrics.resident_answers.inc()
        self.metrics.scores.observe_one(score)
        if tracing.recording():
            record_one(request.series_id, version, KINDS[kind], anomaly)
        return Prediction(
            series_id=request.series_id,
            version=version,
            kind=KINDS[kind],
            params={"threshold": threshold},
            threshold=threshold,
            scores=np.array([score]),
            anomalies=np.array([anomaly]),
            n_anomalies=int(anomaly),
            fallback=False,
            warnings=self._warnings(timestamp, timestamp, start, end),
        )

    def answer_items(
        self, requests: Sequence[PointsRequest | SigmawatchError]
    ) -> dict[int, Prediction]:
        """The items of a batch the table answers, by their index in it."""
        picked = [
            i for i, r in enumerate(requests) if isinstance(r, PointsRequest) and r.version is None
        ]
        if not picked or self.table.size == 0:
            return {}
        items: list[PointsRequest] = [requests[i] for i in picked]  # type: ignore[misc]
        rows, shadows, canaries = self.rows([r.series_id for r in items], item_sides(items))
        mine = np.flatnonzero(rows >= 0).tolist()
        if not mine:
            return {}
        items = [items[i] for i in mine]
        counts = np.fromiter((r.values.size for r in items), np.int64, len(items))
        scored = self.score(
            rows[mine],
            counts,
            np.concatenate([r.timestamps for r in items]),
            np.concatenate([r.values for r in items]),
            among(shadows, mine),
            among(canaries, mine),
        )
        ends = np.cumsum(counts).tolist()
        answers: dict[int, Prediction] = {}
        begin = 0
        for k, item in enumerate(items):
            end = ends[k]
            if scored.ok[k]:
                threshold = float(scored.params[k, THRESHOLD])
                answers[picked[mine[k]]] = Prediction(
                    series_id=item.series_id,
                    version=int(scored.version[k]),
                    kind=KINDS[scored.kind[k]],
                    params={"threshold": threshold},
                    threshold=threshold,
                    scores=scored.scores[begin:end],
                    anomalies=scored.anomalies[begin:end],
                    n_anomalies=int(scored.n_anomalies[k]),
                    fallback=False,
                    warnings=self.warnings(scored, k, item.timestamps),
                )
            begin = end
        return answers
