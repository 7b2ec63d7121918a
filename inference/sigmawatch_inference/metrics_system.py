"""What the serving process itself uses (OBS-1): CPU, memory, files, requests, threads.

- prometheus_client's process collector (`process_*`: CPU seconds, resident
  memory, open and allowed file descriptors). The app has a registry of its
  own, so nothing is there unless registered; it reads /proc when scraped.
- Requests in flight: one unlabelled gauge, bumped as a plain integer by the
  outermost ASGI middleware on the event loop (the only thread that touches
  it, so no lock). The route template is only known after routing; per route,
  in-flight is rate × mean latency (Little's law) of the request histograms.
- The thread pool: anyio's default limiter, which every `to_thread` call
  (offload.py, model loads) and Starlette's sync handlers share. It belongs
  to the event loop, so it is read by the /metrics handler running there, at
  scrape time: a gauge of what is busy and queued at that instant.
- The data folder's file system (`SIGMAWATCH_DATA_DIR`: the embedded
  PostgreSQL, file artifacts, temporary files): its size and free bytes, read
  when scraped. A full disk fails artifact writes (STORAGE_UNAVAILABLE) and
  stops the embedded database; the alert warns before.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

from anyio import to_thread
from prometheus_client import CollectorRegistry, Gauge, ProcessCollector
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector


class InFlight(Collector):
    name = "sigmawatch_http_requests_in_flight"

    def __init__(self) -> None:
        # A Gauge's inc/dec takes a lock twice per request; the event loop needs none.
        self.value = 0

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            self.name,
            "HTTP requests being answered by this process, the /metrics scrape included.",
            value=self.value,
        )


class DataDirDisk(Collector):
    """The data folder's file system, by `shutil.disk_usage` at each scrape."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            usage = shutil.disk_usage(self.path)
        except OSError:  # not there (yet): no sample rather than a wrong one
            return
        yield GaugeMetricFamily(
            "sigmawatch_data_dir_size_bytes",
            "Size of the file system holding SIGMAWATCH_DATA_DIR.",
            value=usage.total,
        )
        yield GaugeMetricFamily(
            "sigmawatch_data_dir_free_bytes",
            "Bytes free to this process on the file system holding SIGMAWATCH_DATA_DIR.",
            value=usage.free,
        )


class SystemMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry
        self._disk: DataDirDisk | None = None
        ProcessCollector(registry=registry)
        self.in_flight = InFlight()
        registry.register(self.in_flight)
        self.pool_size = Gauge(
            "sigmawatch_thread_pool_size",
            "Threads the event loop's pool may run at once (anyio's default limiter).",
            registry=registry,
        )
        self.pool_busy = Gauge(
            "sigmawatch_thread_pool_busy",
            "Pool threads running work (batch scoring, model loads) when scraped.",
            registry=registry,
        )
        self.pool_queued = Gauge(
            "sigmawatch_thread_pool_queued",
            "Tasks waiting for a pool thread when scraped: above 0, the pool is saturated.",
            registry=registry,
        )
        self.series_trained = Gauge(
            "sigmawatch_series_trained",
            "Series with a production version in the registry (/healthcheck's series_trained).",
            registry=registry,
        )

    def observe_thread_pool(self) -> None:
        """Read the pool's limiter; only from a coroutine on the serving event loop."""
        stats = to_thread.current_default_thread_limiter().statistics()
        self.pool_size.set(stats.total_tokens)
        self.pool_busy.set(stats.borrowed_tokens)
        self.pool_queued.set(stats.tasks_waiting)

    def watch_disk(self, data_dir: Path) -> None:
        """Export the data folder's disk space (once; a second call moves the watch)."""
        if self._disk is None:
            self._disk = DataDirDisk(data_dir)
            self._registry.register(self._disk)
        self._disk.path = data_dir
