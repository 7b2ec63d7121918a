"""Background work of a serving process: cache invalidation and usage counts.

Two daemon threads:
- the listener follows the registry's change feed (LISTEN/NOTIFY on
  PostgreSQL) and drops a series from the cache the moment a version or
  pointer of it changes;
- the housekeeper re-reads recently changed production pointers on a
  bounded interval (in case a notification was missed), writes usage
  counts to the registry for warm-up ranking, and updates cache gauges.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime

from sigmawatch.errors import SigmawatchError
from sigmawatch.registry import PointerState, Registry
from sigmawatch_inference.cache import ModelCache
from sigmawatch_inference.metrics import Metrics
from sigmawatch_inference.usage import UsageCounter

log = logging.getLogger(__name__)


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
        self._seen: dict[str, PointerState] = {}

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
                with self.registry.listen() as feed:
                    if reconnect:  # notifications may have been missed meanwhile
                        self.cache.drop_pointers()
                        self.metrics.invalidations.labels("reconnect").inc()
                    backoff = 0.5
                    while not self._stop.is_set():
                        for series_id in feed.changes(timeout=1.0):
                            self.cache.drop_series(series_id)
                            self.metrics.invalidations.labels("notify").inc()
            except Exception as exc:  # the listener must outlive any failure
                reconnect = True
                log.warning("registry listener lost its connection", extra={"error": str(exc)})
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)

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
            except SigmawatchError:
                log.warning("could not record usage counts; they will be retried")
                self.usage.give_back(counts)
