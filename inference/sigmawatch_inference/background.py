"""Background work of a serving process: cache invalidation and usage counts.

Two daemon threads:
- the listener holds one PostgreSQL connection in LISTEN and drops a series
  from the cache the moment a version or pointer of it changes;
- the housekeeper re-reads recently changed production pointers on a
  bounded interval (in case a notification was missed), writes usage
  counts to the registry for warm-up ranking, and updates cache gauges.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from datetime import datetime

import orjson
import psycopg

from sigmawatch.registry import CHANNEL, Registry
from sigmawatch.registry.store import CONNECTION_LIMITS
from sigmawatch_inference.cache import ModelCache
from sigmawatch_inference.metrics import Metrics

log = logging.getLogger(__name__)


class UsageCounter:
    """Predictions per series since the last flush (a dict add on the hot path)."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, series_id: str, n: int = 1) -> None:
        with self._lock:
            self._counts[series_id] += n

    def take(self) -> dict[str, int]:
        with self._lock:
            counts, self._counts = self._counts, Counter()
        return dict(counts)


class Background:
    def __init__(
        self,
        *,
        registry: Registry,
        cache: ModelCache,
        metrics: Metrics,
        usage: UsageCounter,
        refresh_interval_s: float,
        usage_flush_interval_s: float,
    ) -> None:
        self.registry = registry
        self.cache = cache
        self.metrics = metrics
        self.usage = usage
        self.refresh_interval_s = refresh_interval_s
        self.usage_flush_interval_s = usage_flush_interval_s
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._watermark: datetime | None = None
        self._seen: dict[str, tuple[int | None, datetime]] = {}
        self.listening = threading.Event()

    def start(self) -> None:
        # Pointers changed before we listen are caught by the first refresh.
        self._watermark = self.registry.clock()
        for target, name in ((self._listen, "listener"), (self._housekeep, "housekeeper")):
            thread = threading.Thread(target=target, name=f"sigmawatch-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._flush_usage()

    # -- LISTEN/NOTIFY ------------------------------------------------------------

    def _listen(self) -> None:
        backoff = 0.5
        reconnect = False
        while not self._stop.is_set():
            try:
                with psycopg.connect(
                    self.registry.url, autocommit=True, **CONNECTION_LIMITS
                ) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    if reconnect:  # notifications may have been missed meanwhile
                        self.cache.drop_pointers()
                        self.metrics.invalidations.labels("reconnect").inc()
                    self.listening.set()
                    backoff = 0.5
                    while not self._stop.is_set():
                        for notify in conn.notifies(timeout=1.0):
                            self._on_notify(notify.payload)
            except psycopg.Error as exc:
                self.listening.clear()
                reconnect = True
                log.warning("registry listener lost its connection", extra={"error": str(exc)})
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)

    def _on_notify(self, payload: str) -> None:
        try:
            series_id = orjson.loads(payload)["series_id"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            log.warning("ignoring malformed notification", extra={"payload": payload[:200]})
            return
        self.cache.drop_series(series_id)
        self.metrics.invalidations.labels("notify").inc()

    # -- periodic work --------------------------------------------------------------

    def _housekeep(self) -> None:
        next_refresh = time.monotonic() + self.refresh_interval_s
        next_flush = time.monotonic() + self.usage_flush_interval_s
        while not self._stop.wait(1.0):
            now = time.monotonic()
            try:
                if now >= next_refresh:
                    next_refresh = now + self.refresh_interval_s
                    self.refresh()
                if now >= next_flush:
                    next_flush = now + self.usage_flush_interval_s
                    self._flush_usage()
            except Exception:
                log.exception("housekeeping failed; retrying next interval")
            self.metrics.observe_cache(self.cache.size, self.cache.nbytes)

    def refresh(self) -> int:
        """Drop series whose pointer changed since the last refresh; returns how many."""
        assert self._watermark is not None
        changed, self._watermark = self.registry.changed_since(self._watermark)
        dropped = 0
        for series_id, state in changed.items():
            # The query overlaps the previous one; skip rows already handled.
            if self._seen.get(series_id) != state:
                self.cache.drop_series(series_id)
                dropped += 1
        self._seen = changed
        if dropped:
            self.metrics.invalidations.labels("refresh").inc(dropped)
        return dropped

    def _flush_usage(self) -> None:
        counts = self.usage.take()
        if counts:
            try:
                self.registry.record_usage(counts)
            except psycopg.Error:
                log.warning("could not record usage counts; they will be retried")
                for series_id, n in counts.items():
                    self.usage.add(series_id, n)
