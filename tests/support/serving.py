"""An in-process serving stack on the in-memory registry: the predictor without HTTP."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from sigmawatch.arrays import FloatArray, IntArray
from sigmawatch.artifacts import FileStore
from sigmawatch.registry import Registry
from sigmawatch.registry.memory import MemoryRegistry
from sigmawatch.training import TrainResult, train_series
from sigmawatch_inference.cache import ModelCache
from sigmawatch_inference.metrics import Metrics
from sigmawatch_inference.predictor import Predictor
from sigmawatch_inference.resident import ResidentTable
from sigmawatch_inference.resident_path import ResidentPath
from sigmawatch_inference.resolver import ModelResolver
from sigmawatch_inference.routing import RoutingTable
from sigmawatch_inference.settings import ServiceSettings
from sigmawatch_inference.stats_buffer import StatsBuffer
from sigmawatch_inference.usage import UsageCounter
from support.data import series_data


def run_async[T](coroutine: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` on a thread of its own: in a full test run the browser tier's
    Playwright keeps an event loop in the main thread, where asyncio.run refuses."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


class SpyRegistry:
    """Counts the calls made to a registry, and runs a hook before chosen ones."""

    def __init__(self, inner: Registry) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()
        self.before: dict[str, Callable[..., None]] = {}

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if not callable(target):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            if name in self.before:
                self.before[name](*args, **kwargs)
            return target(*args, **kwargs)

        return call


@dataclass
class Stack:
    root: Path
    memory: MemoryRegistry = field(default_factory=MemoryRegistry)
    metrics: Metrics = field(default_factory=Metrics)
    usage: UsageCounter = field(default_factory=UsageCounter)
    # Bytes of the resident model table (resident.py); 0: every answer per item.
    resident_bytes: int = 0

    def __post_init__(self) -> None:
        self.settings = ServiceSettings(data_dir=self.root, min_training_points=100)
        self.store = FileStore(self.root / "artifacts")
        self.spy = SpyRegistry(self.memory)
        self.cache = ModelCache(1000, 10**8)
        self.resolver = ModelResolver(
            cast(Registry, self.spy), self.store, self.cache, self.metrics.model_load
        )
        self.stats = StatsBuffer(self.settings.stats_bucket_s)
        self.routing = RoutingTable()
        self.resident = ResidentTable(self.stats, self.usage, self.resident_bytes)
        path = ResidentPath(
            self.resident,
            self.routing,
            self.settings,
            self.metrics,
            self.stats,
            cached=lambda series_id, version: self.cache.get((series_id, version)),
        )
        self.predictor = Predictor(
            self.resolver,
            self.settings,
            self.metrics,
            self.usage,
            self.stats,
            self.routing,
            path if self.resident_bytes else None,
        )

    def train(self, series_id: str, seed: int = 0, **options: Any) -> TrainResult:
        return self.train_data(series_id, *series_data(500, seed=seed), **options)

    def train_data(
        self, series_id: str, timestamps: IntArray, values: FloatArray, **options: Any
    ) -> TrainResult:
        return train_series(
            series_id,
            timestamps,
            values,
            registry=self.memory,
            store=self.store,
            settings=self.settings,
            **options,
        )

    def counter(self, name: str, **labels: str) -> float:
        value = self.metrics.collectors.get_sample_value(name, labels)
        return value or 0.0
