"""Prometheus metrics of one app instance (MON-1, OBS-1).

A fresh `CollectorRegistry` per app keeps tests independent. Labels are
small, fixed sets (route template, method, status, error code): never a
`series_id`, which would mean 100k+ time series per metric.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from sigmawatch_inference.metrics_ml import MlGauges, ScoreHistogram
from sigmawatch_inference.metrics_rollouts import RolloutGauges
from sigmawatch_inference.metrics_system import SystemMetrics

ENDPOINTS = ("single", "batch")
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
TRAINING_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class LatencyWindow:
    """The last N durations, for the mean and P95 that /healthcheck reports (MON-2)."""

    def __init__(self, size: int = 10_000) -> None:
        self._ms: deque[float] = deque(maxlen=size)

    def add(self, ms: float) -> None:
        self._ms.append(ms)

    def summary(self) -> dict[str, float | int | None]:
        if not self._ms:
            return {"mean": None, "p95": None, "count": 0}
        values = np.fromiter(self._ms, dtype=np.float64, count=len(self._ms))
        return {
            "mean": round(float(values.mean()), 3),
            "p95": round(float(np.percentile(values, 95)), 3),
            "count": int(values.size),
        }


class Tally(Collector):
    """A labelled counter bumped on the hot path as plain integers, exported when scraped:
    a prometheus_client increment costs about 1.5 µs, this a fifth of that."""

    def __init__(self, name: str, documentation: str, label: str, values: tuple[str, ...]) -> None:
        self.name = name
        self.documentation = documentation
        self.label = label
        self._counts = dict.fromkeys(values, 0)
        self._lock = threading.Lock()

    def add(self, value: str, n: int) -> None:
        with self._lock:
            self._counts[value] += n

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(self.name, self.documentation, labels=[self.label])
        with self._lock:
            counts = dict(self._counts)
        for value, n in counts.items():
            family.add_metric([value], n)
        yield family


class Metrics:
    def __init__(self) -> None:
        self.collectors = CollectorRegistry(auto_describe=True)
        r = self.collectors
        self.requests = Counter(
            "sigmawatch_http_requests", "HTTP requests.", ["route", "method", "status"], registry=r
        )
        self.errors = Counter(
            "sigmawatch_http_errors", "HTTP error answers by code.", ["route", "code"], registry=r
        )
        self.latency = Histogram(
            "sigmawatch_http_request_duration_seconds",
            "HTTP request latency.",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.resident_answers = Counter(
            "sigmawatch_resident_answers",
            "Batch items answered from the resident model table (one numpy pass).",
            registry=r,
        )
        self.models_resident = Gauge(
            "sigmawatch_models_resident", "Models in the resident table.", registry=r
        )
        self.resident_bytes = Gauge(
            "sigmawatch_resident_bytes", "Bytes the resident model table holds.", registry=r
        )
        self.cache_hits = Counter("sigmawatch_model_cache_hits", "Model cache hits.", registry=r)
        self.cache_misses = Counter(
            "sigmawatch_model_cache_misses", "Model cache misses.", registry=r
        )
        self.models_cached = Gauge(
            "sigmawatch_models_cached", "Models held in the cache.", registry=r
        )
        self.cache_bytes = Gauge(
            "sigmawatch_model_cache_bytes", "Approximate bytes held by the model cache.", registry=r
        )
        self.storage_up = Gauge(
            "sigmawatch_storage_up",
            "1 while the registry and the artifact store answer, else 0.",
            registry=r,
        )
        self.breaker_state = Gauge(
            "sigmawatch_breaker_state",
            "Circuit breaker of a storage backend: 0 closed, 1 half-open, 2 open (AV-2).",
            ["breaker"],
            registry=r,
        )
        self.breaker_opened = Counter(
            "sigmawatch_breaker_opened",
            "Times a storage backend's circuit breaker opened (AV-2).",
            ["breaker"],
            registry=r,
        )
        self.warmup_seconds = Gauge(
            "sigmawatch_warmup_seconds", "Seconds the start-up warm-up took.", registry=r
        )
        self.warmup_models = Gauge(
            "sigmawatch_warmup_models", "Models loaded by the start-up warm-up.", registry=r
        )
        self.model_load = Histogram(
            "sigmawatch_model_load_seconds",
            "Time to load one model version from storage, by detector kind.",
            ["kind"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.predictions = Counter(
            "sigmawatch_predictions", "Points scored.", ["endpoint"], registry=r
        )
        self.anomalies = Counter(
            "sigmawatch_anomalies", "Points scored as anomalous.", ["endpoint"], registry=r
        )
        self.fallbacks = Counter(
            "sigmawatch_fallback_predictions",
            "Points answered by the z-score fallback (PRED-6).",
            registry=r,
        )
        self.trainings = Counter(
            "sigmawatch_trainings", "Training requests by outcome.", ["outcome"], registry=r
        )
        self.retrains = Counter(
            "sigmawatch_retrains",
            "Trainings through the API that created a version of a series that had one.",
            registry=r,
        )
        self.scores = ScoreHistogram()
        r.register(self.scores)
        self.ml = MlGauges(r)
        self.training_duration = Histogram(
            "sigmawatch_training_duration_seconds",
            "Time to validate, fit, store and register one version.",
            buckets=TRAINING_BUCKETS,
            registry=r,
        )
        self.rollout_points = Tally(
            "sigmawatch_rollout_points",
            "Points of series in a rollout, by role: answered by stable or by the candidate, "
            "or scored by a shadow candidate beside stable's answer.",
            "role",
            ("stable", "candidate", "shadow"),
        )
        self.shadow_comparisons = Tally(
            "sigmawatch_shadow_comparisons",
            "Shadow-scored points by whether the candidate's flag agreed with stable's answer.",
            "outcome",
            ("agreed", "disagreed"),
        )
        # OBS-2: per version in PostgreSQL (stats_buffer.py); here only by the version's role.
        self.version_errors = Tally(
            "sigmawatch_version_errors",
            "Points a version could not score because its model did not load, by role: "
            "a canary's candidate (stable answered) or shadow, or served (the caller got "
            "the error).",
            "role",
            ("served", "candidate", "shadow"),
        )
        r.register(self.rollout_points)
        r.register(self.shadow_comparisons)
        r.register(self.version_errors)
        self.system = SystemMetrics(r)
        self.api_rollouts = RolloutGauges(r)
        self.rollouts_routed = Gauge(
            "sigmawatch_rollouts_routed", "Active rollouts this pod routes.", registry=r
        )
        self.series_routed = Gauge(
            "sigmawatch_rollout_series_routed", "Series this pod routes by a rollout.", registry=r
        )
        self.stats_dropped = Counter(
            "sigmawatch_stats_rows_dropped",
            "Statistics rows dropped because the registry could not take them for too long.",
            registry=r,
        )
        self.invalidations = Counter(
            "sigmawatch_cache_invalidations",
            "Series dropped from the cache, by trigger.",
            ["trigger"],
            registry=r,
        )
        # Children bound once: `.labels()` costs a microsecond on the hot path.
        self.predictions_by_endpoint = {e: self.predictions.labels(e) for e in ENDPOINTS}
        self.anomalies_by_endpoint = {e: self.anomalies.labels(e) for e in ENDPOINTS}
        self.inference_ms = LatencyWindow()
        self.training_ms = LatencyWindow()

    @property
    def cache_hit_rate(self) -> float | None:
        hits, misses = _total(self.cache_hits), _total(self.cache_misses)
        return round(hits / (hits + misses), 4) if hits + misses else None

    def observe_cache(self, size: int, nbytes: int) -> None:
        self.models_cached.set(size)
        self.cache_bytes.set(nbytes)


def _total(counter: Counter) -> float:
    """A label-less counter's value, read through the public collector API."""
    return sum(s.value for m in counter.collect() for s in m.samples if s.name.endswith("_total"))
