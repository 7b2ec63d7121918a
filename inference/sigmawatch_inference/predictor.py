"""The prediction seam: resolve → score → usage → metrics, for one point or a batch.

Both predict routes call this and only parse and render around it, so
whatever a prediction must do (a rollout's routing will come here) is
written once. Batches resolve each distinct (series, version) once, cache
hits at once and misses concurrently in worker threads; one item's failure
is that item's error only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from anyio import to_thread

from sigmawatch.arrays import BoolArray, FloatArray, IntArray
from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.loading import LoadedModel
from sigmawatch.validation import check_timestamps, check_values, timestamp_warnings
from sigmawatch_inference.metrics import Metrics
from sigmawatch_inference.resolver import ModelKey, ModelResolver
from sigmawatch_inference.settings import ServiceSettings
from sigmawatch_inference.usage import UsageCounter

log = logging.getLogger(__name__)

SINGLE, BATCH = "single", "batch"


@dataclass(frozen=True, slots=True)
class PointsRequest:
    """Points of one series to score, parsed and typed (a batch item, or a single point)."""

    series_id: str
    version: int | None  # None: production
    timestamps: IntArray
    values: FloatArray


@dataclass(frozen=True, slots=True)
class Prediction:
    series_id: str
    version: int
    kind: str
    params: dict[str, float]
    threshold: float
    scores: FloatArray
    anomalies: BoolArray
    fallback: bool
    warnings: list[dict[str, Any]]

    @property
    def n_anomalies(self) -> int:
        return int(np.count_nonzero(self.anomalies))


class Predictor:
    def __init__(
        self,
        resolver: ModelResolver,
        settings: ServiceSettings,
        metrics: Metrics,
        usage: UsageCounter,
    ) -> None:
        self.resolver = resolver
        self.settings = settings
        self.metrics = metrics
        self.usage = usage

    async def predict(self, request: PointsRequest) -> Prediction:
        """Score one request; its failure is raised."""
        model = self._cached(request.series_id, request.version)
        if model is None:
            model = await to_thread.run_sync(self.resolver.load, request.series_id, request.version)
        prediction = self._score(model, request)
        self._count(SINGLE, [prediction])
        return prediction

    async def predict_many(
        self, requests: Sequence[PointsRequest | SigmawatchError]
    ) -> list[Prediction | SigmawatchError]:
        """Score each request; a request that could not be parsed stays its error."""
        models = await self._resolve_all(
            {(r.series_id, r.version) for r in requests if isinstance(r, PointsRequest)}
        )
        answers: list[Prediction | SigmawatchError] = []
        for request in requests:
            if isinstance(request, SigmawatchError):
                answers.append(request)
                continue
            model = models[(request.series_id, request.version)]
            if isinstance(model, SigmawatchError):
                answers.append(model)
                continue
            try:
                answers.append(self._score(model, request))
            except SigmawatchError as exc:
                answers.append(exc)
        self._count(BATCH, [a for a in answers if isinstance(a, Prediction)])
        return answers

    # -- resolving --------------------------------------------------------------------

    def _cached(self, series_id: str, version: int | None) -> LoadedModel | None:
        model = self.resolver.cached(series_id, version)  # a cached "no model" raises here
        (self.metrics.cache_hits if model is not None else self.metrics.cache_misses).inc()
        return model

    async def _resolve_all(
        self, keys: set[ModelKey]
    ) -> dict[ModelKey, LoadedModel | SigmawatchError]:
        found: dict[ModelKey, LoadedModel | SigmawatchError] = {}
        misses: list[ModelKey] = []
        for key in keys:
            try:
                model = self._cached(*key)
            except SigmawatchError as exc:
                found[key] = exc
                continue
            if model is None:
                misses.append(key)
            else:
                found[key] = model
        loaded = await asyncio.gather(*(self._load(key) for key in misses))
        found.update(zip(misses, loaded, strict=True))
        return found

    async def _load(self, key: ModelKey) -> LoadedModel | SigmawatchError:
        # Whatever one model's load hits becomes that model's items' error only.
        try:
            return await to_thread.run_sync(self.resolver.load, *key)
        except SigmawatchError as exc:
            return exc
        except Exception:
            log.exception("loading a model failed", extra={"series_id": key[0]})
            return SigmawatchError(
                ErrorCode.INTERNAL_ERROR, "loading this model failed", series_id=key[0]
            )

    # -- scoring and accounting ------------------------------------------------------------

    def _score(self, model: LoadedModel, request: PointsRequest) -> Prediction:
        """Validate (VAL-7) and score; arrays stay numpy until orjson writes them."""
        check_timestamps(request.timestamps, strictly_increasing=False)
        check_values(request.values, self.settings)
        scored = model.score(request.values)
        detector = model.detector if not scored.fallback and model.detector else model.fallback
        return Prediction(
            series_id=model.series_id,
            version=model.version,
            kind=model.kind,
            params=detector.params,
            threshold=detector.threshold,
            scores=scored.scores,
            anomalies=scored.anomalies,
            fallback=scored.fallback,
            warnings=timestamp_warnings(
                request.timestamps,
                now=time.time(),
                training_range=model.training_range,
                settings=self.settings,
            ),
        )

    def _count(self, endpoint: str, predictions: list[Prediction]) -> None:
        points = anomalies = fallbacks = 0
        for prediction in predictions:
            n = int(prediction.scores.size)
            self.usage.add(prediction.series_id, n)
            points += n
            anomalies += prediction.n_anomalies
            fallbacks += n if prediction.fallback else 0
        self.metrics.predictions.labels(endpoint).inc(points)
        if anomalies:
            self.metrics.anomalies.labels(endpoint).inc(anomalies)
        if fallbacks:
            self.metrics.fallbacks.inc(fallbacks)
