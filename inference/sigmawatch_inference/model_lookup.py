"""Finding the models a request needs, as the predictor asks: one, or a batch's many.

Batches resolve each distinct (series, version) once, cache hits at once
and misses in worker threads, at most `SIGMAWATCH_BATCH_LOAD_CONCURRENCY`
at a time; one model's failure is its items' error only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from anyio import to_thread

from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.loading import LoadedModel
from sigmawatch_inference import offload
from sigmawatch_inference.metrics import Metrics
from sigmawatch_inference.resolver import ModelKey, ModelResolver

log = logging.getLogger(__name__)

type Models = dict[ModelKey, LoadedModel | SigmawatchError]


class ModelLookup:
    def __init__(self, resolver: ModelResolver, metrics: Metrics, concurrency: int) -> None:
        self.resolver = resolver
        self.metrics = metrics
        self.concurrency = concurrency

    async def model(self, series_id: str, version: int | None) -> LoadedModel:
        model = self._cached(series_id, version)
        if model is None:
            model = await to_thread.run_sync(self.resolver.load, series_id, version)
        return model

    def _cached(self, series_id: str, version: int | None) -> LoadedModel | None:
        model = self.resolver.cached(series_id, version)  # a cached "no model" raises here
        (self.metrics.cache_hits if model is not None else self.metrics.cache_misses).inc()
        return model

    async def resolve_all(self, keys: set[ModelKey], items: int) -> Models:
        found, misses = await offload.run(items, self._lookup, keys)
        found.update(await self._load_all(misses))
        return found

    def _lookup(self, keys: Iterable[ModelKey]) -> tuple[Models, list[ModelKey]]:
        """The cached models (or cached "no model" errors), and the keys to load."""
        found: Models = {}
        misses: list[ModelKey] = []
        for key in keys:
            try:
                model = self._cached(*key)
            except SigmawatchError as exc:
                found[key] = exc.with_traceback(None)  # see _load
                continue
            if model is None:
                misses.append(key)
            else:
                found[key] = model
        return found, misses

    async def _load_all(self, keys: list[ModelKey]) -> Models:
        """A few workers load every key: 10,000 unknown series make a few tasks, not 10,000."""
        loaded: Models = {}
        pending = iter(keys)

        async def worker() -> None:
            for key in pending:
                loaded[key] = await self._load(key)

        workers = min(len(keys), self.concurrency)
        await asyncio.gather(*(worker() for _ in range(workers)))
        return loaded

    async def _load(self, key: ModelKey) -> LoadedModel | SigmawatchError:
        # One model's failure is its items' error only, kept without its traceback: frames
        # referring back to it are a cycle, and 10,000 made a 0.4 s full collection.
        try:
            return await to_thread.run_sync(self.resolver.load, *key)
        except SigmawatchError as exc:
            return exc.with_traceback(None)
        except Exception:
            log.exception("loading a model failed", extra={"series_id": key[0]})
            return SigmawatchError(
                ErrorCode.INTERNAL_ERROR, "loading this model failed", series_id=key[0]
            )
