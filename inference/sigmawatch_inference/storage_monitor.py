"""Registry and artifact-store reachability, checked off the request path.

A background thread pings both every few seconds; `/healthcheck` and the
metrics read the last result and never wait on storage themselves. A check
that hangs (a stopped database answers nothing) shows up as a stale result,
reported unhealthy once it is older than a few intervals. The number of
trained series is a summary and counting it scans the series table, so it
is counted only when the registry changed (at most every few seconds) and
otherwise every few minutes, never on every ping.

A write the artifact store refused leaves it degraded although it still
answers reads; each check then tries a small write, until one succeeds.
While a breaker is open the check fails fast too, and after the cool-down
it is the breaker's probe (AV-2).

`reason` is written for callers of /healthcheck; what failed in detail
(hosts, buckets) goes to the log only.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sigmawatch.artifacts import ArtifactStore, GuardedStore
from sigmawatch.breaker import BreakerOpenError
from sigmawatch.registry import Registry
from sigmawatch_inference.metrics import Metrics

log = logging.getLogger(__name__)

INTERVAL_S = 2.0
STALE_AFTER_S = 10.0
COUNT_MIN_GAP_S = 5.0  # counts while the registry keeps changing, at most this often
COUNT_MAX_AGE_S = 300.0  # and at least this often, for changes this pod was not told of


@dataclass(frozen=True, slots=True)
class StorageState:
    ok: bool
    reason: str | None
    series_trained: int | None
    checked_at: float


STARTING = StorageState(False, "not checked yet", None, 0.0)


class StorageMonitor:
    def __init__(
        self,
        registry: Registry,
        store: ArtifactStore,
        metrics: Metrics,
        *,
        changes: Callable[[], int] = lambda: 0,
    ) -> None:
        """`changes()` grows whenever this pod learns the registry changed."""
        self.registry = registry
        self.store = store
        self.metrics = metrics
        self.changes = changes
        self._last = STARTING
        self._counted_at: float | None = None
        self._counted_changes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sigmawatch-storage", daemon=True)

    def start(self) -> StorageState:
        """Check once now, then every few seconds in the background."""
        first = self.check()
        self._thread.start()
        return first

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=timeout)

    def state(self) -> StorageState:
        last = self._last
        age = time.monotonic() - last.checked_at
        if last.checked_at and age > STALE_AFTER_S:
            return StorageState(
                False, f"storage check unanswered for {age:.0f}s", None, last.checked_at
            )
        return last

    def _series_trained(self, now: float) -> int | None:
        changes = self.changes()
        age = None if self._counted_at is None else now - self._counted_at
        due = (
            age is None
            or age >= COUNT_MAX_AGE_S
            or (changes != self._counted_changes and age >= COUNT_MIN_GAP_S)
        )
        if not due:
            return self._last.series_trained
        self._counted_at, self._counted_changes = now, changes
        return self.registry.count_served(prefix="")

    def check(self, now: float | None = None) -> StorageState:
        now = time.monotonic() if now is None else now
        problem = "the model registry does not answer"
        try:
            self.registry.ping()
            problem = "the artifact store does not answer"
            self.store.ping()
            if isinstance(self.store, GuardedStore) and self.store.write_failed_at is not None:
                problem = "the artifact store refused a write"
                self.store.check_writable()
            state = StorageState(True, None, self._series_trained(now), now)
        except Exception as exc:
            reason = problem + (" (circuit open)" if isinstance(exc, BreakerOpenError) else "")
            state = StorageState(False, reason, self._last.series_trained, now)
            if self._last.ok or self._last is STARTING:
                log.warning("storage unavailable", extra={"reason": reason, "error": str(exc)})
        self._last = state
        self.metrics.storage_up.set(1 if state.ok else 0)
        if state.series_trained is not None:
            self.metrics.system.series_trained.set(state.series_trained)
        return state

    def _run(self) -> None:
        while not self._stop.wait(INTERVAL_S):
            self.check()
