"""Background work of a serving process: invalidation, routing, statistics, usage.

Two daemon threads:
- the listener follows the registry's change feed (LISTEN/NOTIFY on
  PostgreSQL): a changed series is dropped from the cache at once, a
  changed rollout's routing is reloaded at once, a revoked API key empties
  the key cache at once;
- the housekeeper runs the periodic tasks: re-read recently changed
  production pointers and rollout routing (in case a notification was
  missed, bounded by `refresh_interval_s`), flush per-version statistics
  usage counts and API keys' last use to the registry, prune old statistics
  and audit entries, update gauges.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sigmawatch.errors import SigmawatchError
from sigmawatch.registry import PointerState, Registry
from sigmawatch.registry.access_protocol import API_KEYS_CHANGE
from sigmawatch_inference import ml_summary
from sigmawatch_inference.cache import ModelCache
from sigmawatch_inference.metrics import Metrics
from sigmawatch_inference.period_buffer import PeriodBuffer
from sigmawatch_inference.resident import ResidentTable
from sigmawatch_inference.routing import RoutingTable
from sigmawatch_inference.security.keys import KeyCache
from sigmawatch_inference.settings import ServiceSettings
from sigmawatch_inference.stats_buffer import StatsBuffer, TrackBuffer
from sigmawatch_inference.usage import UsageCounter

log = logging.getLogger(__name__)

ROLLOUT_CHANGE = "rollout:"
PRUNE_INTERVAL_S = 3600.0


@dataclass
class Periodic:
    interval_s: float
    run: Callable[[], object]
    next_at: float = 0.0


class Background:
    def __init__(
        self,
        *,
        registry: Registry,
        cache: ModelCache,
        metrics: Metrics,
        usage: UsageCounter,
        routing: RoutingTable,
        stats: StatsBuffer,
        tracks: TrackBuffer,
        keys: KeyCache,
        settings: ServiceSettings,
        resident: ResidentTable | None = None,
    ) -> None:
        self.registry = registry
        self.cache = cache
        self.metrics = metrics
        self.usage = usage
        self.routing = routing
        self.stats = stats
        self.tracks = tracks
        self.keys = keys
        self.settings = settings
        self.resident = resident
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._watermark: datetime | None = None
        self._seen: dict[str, PointerState] = {}
        self.periods = PeriodBuffer()  # OBS-2: hourly and daily periods, written less often

    def start(self) -> None:
        self.watch_from_now()
        self.sync_routing()
        for target, name in ((self._listen, "listener"), (self._housekeep, "housekeeper")):
            thread = threading.Thread(target=target, name=f"sigmawatch-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the threads and write the last counts, all within `timeout`: with the
        registry down, a shutdown must not wait out every flush's connection wait."""
        deadline = time.monotonic() + timeout
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        last = threading.Thread(target=self._last_flush, name="sigmawatch-last-flush", daemon=True)
        last.start()
        last.join(timeout=max(0.5, deadline - time.monotonic()))
        if last.is_alive():
            log.warning("the registry did not take the last counts in time; they are lost")

    def _last_flush(self) -> None:
        if self.resident is not None:
            self.resident.spill()
        for flush in (
            self._flush_usage,
            self._flush_stats,
            self._flush_periods,
            self._flush_tracks,
            self._flush_key_use,
        ):
            try:
                flush()
            except SigmawatchError:
                log.warning("could not write the last counts on the way out")

    # -- LISTEN/NOTIFY ------------------------------------------------------------

    def _listen(self) -> None:
        backoff = 0.5
        reconnect = False
        while not self._stop.is_set():
            try:
                with self.registry.listen() as feed:
                    if reconnect:  # notifications may have been missed meanwhile
                        # Only what changed since the last refresh is dropped: dropping
                        # every pointer would send all traffic to a registry that has
                        # just come back (and whose breaker may still be open).
                        self.refresh()
                        self.keys.clear()
                        self.sync_routing()
                        self.metrics.invalidations.labels("reconnect").inc()
                    backoff = 0.5
                    while not self._stop.is_set():
                        for change in feed.changes(timeout=1.0):
                            self._on_change(change)
            except Exception as exc:  # the listener must outlive any failure
                reconnect = True
                log.warning("registry listener lost its connection", extra={"error": str(exc)})
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)

    def _on_change(self, change: str) -> None:
        if change == API_KEYS_CHANGE:
            self.keys.clear()  # a key was revoked: look every key up again
            return
        if change.startswith(ROLLOUT_CHANGE):
            self.routing.reload(self.registry, int(change.removeprefix(ROLLOUT_CHANGE)))
            self._observe_routing()
            return
        self.cache.drop_series(change)
        if self.resident is not None:
            self.resident.changed(self.registry, [change])
        self.metrics.invalidations.labels("notify").inc()

    # -- periodic work --------------------------------------------------------------

    def _housekeep(self) -> None:
        settings = self.settings
        tasks = [
            Periodic(settings.refresh_interval_s, self.refresh),
            Periodic(settings.refresh_interval_s, self.sync_routing),
            Periodic(settings.usage_flush_interval_s, self._flush_usage),
            Periodic(settings.stats_flush_interval_s, self._flush_stats),
            Periodic(settings.stats_flush_interval_s, self._flush_tracks),
            Periodic(settings.stats_period_flush_s, self._flush_periods),
            Periodic(settings.usage_flush_interval_s, self._flush_key_use),
            Periodic(settings.resident_reload_s, self.load_resident),
            Periodic(PRUNE_INTERVAL_S, lambda: self.registry.prune_stats(settings.stats_keep_days)),
            Periodic(PRUNE_INTERVAL_S, lambda: self.registry.prune_audit(settings.audit_keep_days)),
            Periodic(
                PRUNE_INTERVAL_S,
                lambda: self.registry.prune_health(
                    settings.stats_hourly_keep_days, settings.stats_daily_keep_days
                ),
            ),
        ]
        if settings.ml_summary_interval_s > 0:  # OBS-2 gauges: ml_summary.py
            tasks.append(Periodic(settings.ml_summary_interval_s, self.summarise_ml))
        now = time.monotonic()
        for task in tasks:
            task.next_at = now + task.interval_s
        while not self._stop.wait(0.25):
            now = time.monotonic()
            for task in tasks:
                if now < task.next_at:
                    continue
                task.next_at = now + task.interval_s
                try:
                    task.run()
                except Exception:
                    log.exception("housekeeping failed; retrying next interval")
            self.metrics.observe_cache(self.cache.size, self.cache.nbytes)

    def summarise_ml(self) -> tuple[int, int] | None:
        return ml_summary.summarise(self.registry, self.settings, self.metrics.ml)

    def watch_from_now(self) -> None:
        """Start the bounded refresh here. Pointers changed before we listen are caught by
        the first refresh; what changed just before now (the refresh's overlap) counts as
        seen in its state of now, which every model this process loads is read after: a
        fleet trained minutes before a pod starts is not dropped from its cache 30 s in."""
        self._seen, self._watermark = self.registry.changed_since(self.registry.clock())

    def refresh(self) -> int:
        """Drop series whose pointer changed since the last refresh; returns how many."""
        assert self._watermark is not None
        changed, self._watermark = self.registry.changed_since(self._watermark)
        # The query overlaps the previous one; skip rows already handled.
        fresh = [s for s, state in changed.items() if self._seen.get(s) != state]
        for series_id in fresh:
            self.cache.drop_series(series_id)
        if self.resident is not None and fresh:
            self.resident.changed(self.registry, fresh)
        dropped = len(fresh)
        self._seen = changed
        if dropped:
            self.metrics.invalidations.labels("refresh").inc(dropped)
        return dropped

    def sync_routing(self) -> int:
        changed = self.routing.sync(self.registry)
        self._observe_routing()
        return changed

    def _observe_routing(self) -> None:
        self.metrics.rollouts_routed.set(self.routing.rollouts)
        self.metrics.series_routed.set(self.routing.series)

    def load_resident(self) -> int:
        """(Re)load the resident model table in full; returns its rows."""
        if self.resident is None:
            return 0
        rows = self.resident.load(self.registry)
        self.metrics.models_resident.set(rows)
        self.metrics.resident_bytes.set(self.resident.nbytes)
        return rows

    def _flush_usage(self) -> None:
        if self.resident is not None:
            self.resident.spill()
        counts = self.usage.take()
        if counts:
            try:
                self.registry.record_usage(counts)
            except SigmawatchError:
                log.warning("could not record usage counts; they will be retried")
                self.usage.give_back(counts)

    def _flush_key_use(self) -> None:
        used = self.keys.take_used()
        if used:
            try:
                self.registry.touch_api_keys(used)
            except SigmawatchError:
                log.warning("could not record when API keys were last used")

    def _flush_stats(self) -> None:
        if self.resident is not None:
            self.resident.spill()
        rows = self.stats.take()
        if not rows:
            return
        try:
            self.registry.record_stats(rows)
        except SigmawatchError:
            log.warning("could not record statistics; they will be retried")
            dropped = self.stats.dropped
            self.stats.give_back(rows)
            self.metrics.stats_dropped.inc(self.stats.dropped - dropped)
            return
        self.periods.add(rows)  # after the write: rows given back come again

    def _flush_periods(self) -> None:
        rows = self.periods.take()
        if not rows:
            return
        try:
            self.registry.record_periods(rows)
        except SigmawatchError:
            log.warning("could not record hourly statistics; they will be retried")
            dropped = self.periods.dropped
            self.periods.give_back(rows)
            self.metrics.stats_dropped.inc(self.periods.dropped - dropped)

    def _flush_tracks(self) -> None:
        rows = self.tracks.take()
        if not rows:
            return
        try:
            self.registry.record_track_stats(rows)
        except SigmawatchError:
            log.warning("could not record track statistics; they will be retried")
            self.tracks.give_back(rows)
