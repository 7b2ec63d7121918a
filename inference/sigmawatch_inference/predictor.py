"""The prediction seam: route → resolve → score → statistics → usage → metrics,
for one point or a batch.

Both predict routes call this and only parse and render around it, so what
a prediction does is written once. A request for production goes where the
series' rollout sends it (routing.py): a shadow answers from stable and
scores the candidate beside it; a canary answers from the version its
routing key picks, from stable should the candidate fail to load. Batches
resolve each distinct (series, version) once, cache hits at once and misses
in worker threads, at most `SIGMAWATCH_BATCH_LOAD_CONCURRENCY` at a time;
one item's failure is that item's error only; a large batch does its
per-item work in a worker thread (offload.py), where what it shares takes
locks of its own. Every answer adds to its version's statistics (stats_buffer.py),
and a model that did not load to its version's errors (version_errors.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np

from sigmawatch.drift import bin_counts
from sigmawatch.errors import SigmawatchError
from sigmawatch.loading import LoadedModel
from sigmawatch.rollouts.spec import Strategy
from sigmawatch.time_warnings import timestamp_warnings
from sigmawatch.validation import check_timestamps, check_values
from sigmawatch_inference import offload
from sigmawatch_inference.metrics import ENDPOINTS, Metrics
from sigmawatch_inference.model_lookup import ModelLookup, Models
from sigmawatch_inference.points import PRODUCTION, PointsRequest, Prediction, Target
from sigmawatch_inference.resident_path import ResidentPath
from sigmawatch_inference.resolver import ModelKey, ModelResolver
from sigmawatch_inference.routing import RoutingTable, on_candidate
from sigmawatch_inference.settings import ServiceSettings
from sigmawatch_inference.stats_buffer import Shares, StatsBuffer, scoring_clock
from sigmawatch_inference.usage import UsageCounter
from sigmawatch_inference.version_errors import CANDIDATE, SHADOW, VersionErrors

log = logging.getLogger(__name__)

SINGLE, BATCH = ENDPOINTS
type Answer = Prediction | SigmawatchError


class Predictor:
    def __init__(
        self,
        resolver: ModelResolver,
        settings: ServiceSettings,
        metrics: Metrics,
        usage: UsageCounter,
        stats: StatsBuffer,
        routing: RoutingTable,
        resident: ResidentPath | None = None,
    ) -> None:
        self.models = ModelLookup(resolver, metrics, settings.batch_load_concurrency)
        self.resident = resident
        self.settings = settings
        self.metrics = metrics
        self.usage = usage
        self.stats = stats
        self.routing = routing
        self.errors = VersionErrors(stats, metrics.version_errors, resolver.cache.pointer)

    def _target(self, request: PointsRequest) -> Target:
        if request.version is not None:
            return Target(request.version)
        route = self.routing.route(request.series_id)
        if route is None:
            return PRODUCTION
        if route.strategy is Strategy.SHADOW:
            return Target(route.stable, shadow=route.candidate)
        first = int(request.timestamps[0])
        if on_candidate(route, request.series_id, first, request.route_key):
            return Target(route.candidate, fallback=route.stable)
        return Target(route.stable)

    async def predict(self, request: PointsRequest) -> Prediction:
        """Score one request; its failure is raised."""
        if self.resident is not None:
            answer = self.resident.answer_one(request)
            if answer is not None:
                self._count(SINGLE, [answer], usage=False)  # the table counts usage
                return answer
        target = self._target(request)
        try:
            model = await self._answering(request, target)
        except SigmawatchError as exc:
            self.errors.unserved(request, target, exc)
            raise
        prediction = self._score(model, request, target)
        if target.shadow is not None:
            try:
                candidate = await self.models.model(request.series_id, target.shadow)
            except SigmawatchError:
                self.errors.beside(request, target.shadow, SHADOW)
            else:
                self._shadow(candidate, request, prediction)
        self._count(SINGLE, [prediction])
        return prediction

    async def _answering(self, request: PointsRequest, target: Target) -> LoadedModel:
        """The target's model, or stable's should a canary's candidate not load."""
        try:
            return await self.models.model(request.series_id, target.version)
        except SigmawatchError:
            if target.fallback is None:
                raise
            self.errors.beside(request, target.version, CANDIDATE)
            return await self.models.model(request.series_id, target.fallback)

    async def predict_many(
        self, requests: Sequence[PointsRequest | SigmawatchError]
    ) -> list[Answer]:
        """Score each request; a request that could not be parsed stays its error.

        The resident table answers what it can in one pass; the rest per item."""
        n = len(requests)
        if self.resident is None:
            return await self.per_item(requests)
        resident = await offload.run(n, self.resident.answer_items, requests)
        self._count(BATCH, list(resident.values()), usage=False)  # the table counts usage
        if len(resident) == n:
            return list(resident.values())
        rest = [i for i in range(n) if i not in resident]
        answers = await self.per_item([requests[i] for i in rest])
        merged: list[Answer | None] = [resident.get(i) for i in range(n)]
        for i, answer in zip(rest, answers, strict=True):
            merged[i] = answer
        return merged  # type: ignore[return-value]  # every slot is filled

    async def per_item(self, requests: Sequence[PointsRequest | SigmawatchError]) -> list[Answer]:
        """Each request on its own model: cache, registry and store (and rollouts)."""
        n = len(requests)
        targets, keys = await offload.run(n, self._plan, requests)
        models = await self.models.resolve_all(keys, n)
        fallbacks = await offload.run(n, _fallbacks, requests, targets, models)
        if fallbacks:
            models |= await self.models.resolve_all(fallbacks, n)
        return await offload.run(n, self._answer_all, requests, targets, models)

    def _plan(
        self, requests: Sequence[PointsRequest | SigmawatchError]
    ) -> tuple[list[Target], set[ModelKey]]:
        """Each request's target, and every distinct (series, version) they need."""
        targets = [
            self._target(r) if isinstance(r, PointsRequest) else PRODUCTION for r in requests
        ]
        items = [
            (r, t) for r, t in zip(requests, targets, strict=True) if isinstance(r, PointsRequest)
        ]
        keys: set[ModelKey] = {(r.series_id, t.version) for r, t in items}
        keys |= {(r.series_id, t.shadow) for r, t in items if t.shadow is not None}
        return targets, keys

    def _answer_all(
        self,
        requests: Sequence[PointsRequest | SigmawatchError],
        targets: list[Target],
        models: Models,
    ) -> list[Answer]:
        answers = [
            self._answer(request, target, models) if isinstance(request, PointsRequest) else request
            for request, target in zip(requests, targets, strict=True)
        ]
        self._count(BATCH, [a for a in answers if isinstance(a, Prediction)])
        return answers

    def _answer(self, request: PointsRequest, target: Target, models: Models) -> Answer:
        model = models[(request.series_id, target.version)]
        if isinstance(model, SigmawatchError) and target.fallback is not None:
            self.errors.beside(request, target.version, CANDIDATE)
            model = models[(request.series_id, target.fallback)]
        if isinstance(model, SigmawatchError):
            self.errors.unserved(request, target, model)
            return model
        try:
            prediction = self._score(model, request, target)
        except SigmawatchError as exc:
            return exc.with_traceback(None)
        if target.shadow is not None:
            candidate = models[(request.series_id, target.shadow)]
            if isinstance(candidate, SigmawatchError):
                self.errors.beside(request, target.shadow, SHADOW)
            else:
                self._shadow(candidate, request, prediction)
        return prediction

    # -- scoring and accounting ------------------------------------------------------------

    def _score(self, model: LoadedModel, request: PointsRequest, target: Target) -> Prediction:
        """Validate (VAL-7) and score; arrays stay numpy until orjson writes them."""
        check_timestamps(request.timestamps, strictly_increasing=False)
        check_values(request.values, self.settings)
        started = scoring_clock()
        scored = model.score(request.values)
        latency_ms = (scoring_clock() - started) * 1000.0
        points = int(request.values.size)
        flagged = int(np.count_nonzero(scored.anomalies))
        bins, shares = self._drift(model, request)
        self.stats.answered(
            model.series_id,
            model.version,
            points,
            flagged,
            fallback=scored.fallback,
            latency_ms=latency_ms,
            bins=bins,
            shares=shares,
        )
        self.metrics.scores.observe(scored.scores)
        if request.version is None and target is not PRODUCTION:  # routed by a rollout
            on_candidate = target.fallback is not None and model.version == target.version
            self.metrics.rollout_points.add("candidate" if on_candidate else "stable", points)
        detector = model.detector if not scored.fallback and model.detector else model.fallback
        return Prediction(
            series_id=model.series_id,
            version=model.version,
            kind=model.kind,
            params=detector.params,
            threshold=detector.threshold,
            scores=scored.scores,
            anomalies=scored.anomalies,
            n_anomalies=flagged,
            fallback=scored.fallback,
            warnings=timestamp_warnings(
                request.timestamps,
                now=time.time(),
                training_range=model.training_range,
                settings=self.settings,
            ),
        )

    def _shadow(self, model: LoadedModel, request: PointsRequest, answer: Prediction) -> None:
        """Score the candidate on the same points; its answer is only compared, never sent."""
        started = scoring_clock()
        scored = model.score(request.values)
        latency_ms = (scoring_clock() - started) * 1000.0
        points = int(request.values.size)
        agreed = int(np.count_nonzero(scored.anomalies == answer.anomalies))
        flagged = int(np.count_nonzero(scored.anomalies))
        bins, shares = self._drift(model, request)
        self.stats.shadowed(
            [(model.series_id, model.version, points, flagged, agreed, bins, shares)], latency_ms
        )
        self.metrics.rollout_points.add("shadow", points)
        self.metrics.shadow_comparisons.add("agreed", agreed)
        if points > agreed:
            self.metrics.shadow_comparisons.add("disagreed", points - agreed)

    def _drift(
        self, model: LoadedModel, request: PointsRequest
    ) -> tuple[list[int] | None, Shares | None]:
        """The request's values in the version's drift bins, and their training shares
        when the buffer still needs them (None and None without bins)."""
        if model.drift_edges is None:
            return None, None
        shares = model.drift_shares
        if shares is not None and not self.stats.wants_shares(model.series_id, model.version):
            shares = None
        return bin_counts(request.values, model.drift_edges).tolist(), shares

    def _count(self, endpoint: str, predictions: list[Prediction], *, usage: bool = True) -> None:
        points = anomalies = fallbacks = 0
        for prediction in predictions:
            n = int(prediction.scores.size)
            if usage:
                self.usage.add(prediction.series_id, n)
            points += n
            anomalies += prediction.n_anomalies
            fallbacks += n if prediction.fallback else 0
        self.count(endpoint, points, anomalies)
        if fallbacks:
            self.metrics.fallbacks.inc(fallbacks)

    def count(self, endpoint: str, points: int, anomalies: int) -> None:
        """Predictions and anomalies answered (usage is counted where they were scored)."""
        self.metrics.predictions_by_endpoint[endpoint].inc(points)
        if anomalies:
            self.metrics.anomalies_by_endpoint[endpoint].inc(anomalies)


def _fallbacks(
    requests: Sequence[PointsRequest | SigmawatchError], targets: list[Target], models: Models
) -> set[ModelKey]:
    """The stable versions of the canary items whose candidate did not load."""
    return {
        (r.series_id, t.fallback)
        for r, t in zip(requests, targets, strict=True)
        if isinstance(r, PointsRequest)
        and t.fallback is not None
        and isinstance(models[(r.series_id, t.version)], SigmawatchError)
    }
