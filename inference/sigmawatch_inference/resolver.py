"""Finding the model that answers: the cache without I/O, the registry and store on a miss."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from prometheus_client import Histogram

from sigmawatch import tracing
from sigmawatch.arrays import BoolArray
from sigmawatch.artifacts import ArtifactStore
from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.loading import LoadedModel, load_model
from sigmawatch.registry import ACTIVE, Registry, VersionRecord
from sigmawatch.registry.errors import model_not_found, version_archived
from sigmawatch_inference.cache import ModelCache

# A version served by the fallback is retried this often, so a storage
# outage heals by itself once the store answers again.
FALLBACK_TTL_S = 30.0

type ModelKey = tuple[str, int | None]  # (series, version or None for production)


class ModelResolver:
    def __init__(
        self, registry: Registry, store: ArtifactStore, cache: ModelCache, load_seconds: Histogram
    ) -> None:
        self.registry = registry
        self.store = store
        self.cache = cache
        self.load_seconds = load_seconds

    def cached(self, series_id: str, version: int | None) -> LoadedModel | None:
        """The cached model, or None when the registry must be asked (no I/O)."""
        if version is None:
            known, version = self.cache.pointer(series_id)
            if not known:
                return None
            if version is None:
                raise model_not_found(series_id)
        return self.cache.get((series_id, version))

    def load(self, series_id: str, version: int | None) -> LoadedModel:
        """Ask the registry, load the artifact, cache both (blocking); `model.load`
        when traced (OBS-5)."""
        with tracing.child("model.load", {tracing.SERIES_ID: series_id}) as span:
            model = self._load(series_id, version)
            if span.is_recording():
                span.set_attributes(
                    {
                        tracing.VERSION: model.version,
                        tracing.DETECTOR_KIND: model.kind,
                        "model.fallback": model.load_error is not None,
                    }
                )
            return model

    def _load(self, series_id: str, version: int | None) -> LoadedModel:
        token = self.cache.token()
        if version is None:
            try:
                record = self.registry.get_production(series_id)
            except SigmawatchError as exc:
                if exc.code is ErrorCode.MODEL_NOT_FOUND:
                    self.cache.set_pointer(series_id, None, token=token)
                raise
            self.cache.set_pointer(series_id, record.version, token=token)
        else:
            record = self.registry.get_version(series_id, version)
            if record.status != ACTIVE:
                raise version_archived(series_id, version)
        return self._load_record(record, token)

    def _load_record(self, record: VersionRecord, token: int) -> LoadedModel:
        model = self.cache.get((record.series_id, record.version))
        if model is not None:
            return model
        started = time.perf_counter()
        model = load_model(record, self.store)
        self.load_seconds.labels(record.detector.kind).observe(time.perf_counter() - started)
        self.cache.put(model, token=token, ttl_s=FALLBACK_TTL_S if model.load_error else None)
        return model

    def warm_up(
        self,
        top_n: int,
        *,
        skip: Callable[[list[str]], BoolArray] | None = None,
        threads: int = 8,
    ) -> int:
        """Load the production versions of the `top_n` most-used series (MOD-7), but those
        `skip` marks (the resident table answers them without the cache)."""
        if top_n <= 0:
            return 0
        token = self.cache.token()
        records = self.registry.most_used(top_n)
        if skip is not None and records:
            skipped = skip([r.series_id for r in records])
            records = [r for r, s in zip(records, skipped.tolist(), strict=True) if not s]
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="warmup") as pool:
            loaded = list(pool.map(lambda r: self._load_record(r, token), records))
        for record in records:
            self.cache.set_pointer(record.series_id, record.version, token=token)
        return len(loaded)
