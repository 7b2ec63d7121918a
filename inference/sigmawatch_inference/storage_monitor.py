"""Registry and artifact-store reachability, checked off the request path.

A background thread pings both every few seconds; `/healthcheck` and the
metrics read the last result and never wait on storage themselves. A check
that hangs (a stopped database answers nothing) shows up as a stale result,
reported unhealthy once it is older than a few intervals.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from sigmawatch.artifacts import ArtifactStore
from sigmawatch.registry import Registry
from sigmawatch_inference.metrics import Metrics

log = logging.getLogger(__name__)

INTERVAL_S = 2.0
STALE_AFTER_S = 10.0


@dataclass(frozen=True, slots=True)
class StorageState:
    ok: bool
    reason: str | None
    series_trained: int | None
    checked_at: float


STARTING = StorageState(False, "not checked yet", None, 0.0)


class StorageMonitor:
    def __init__(self, registry: Registry, store: ArtifactStore, metrics: Metrics) -> None:
        self.registry = registry
        self.store = store
        self.metrics = metrics
        self._last = STARTING
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sigmawatch-storage", daemon=True)

    def start(self) -> StorageState:
        """Check once now, then every few seconds in the background."""
        first = self.check()
        self._thread.start()
        return first

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def state(self) -> StorageState:
        last = self._last
        age = time.monotonic() - last.checked_at
        if last.checked_at and age > STALE_AFTER_S:
            return StorageState(
                False, f"storage check unanswered for {age:.0f}s", None, last.checked_at
            )
        return last

    def check(self) -> StorageState:
        try:
            self.registry.ping()
            self.store.ping()
            state = StorageState(True, None, self.registry.count_trained_series(), time.monotonic())
        except Exception as exc:
            state = StorageState(False, str(exc), self._last.series_trained, time.monotonic())
            if self._last.ok:
                log.warning("storage unavailable", extra={"error": state.reason})
        self._last = state
        self.metrics.storage_up.set(1 if state.ok else 0)
        return state

    def _run(self) -> None:
        while not self._stop.wait(INTERVAL_S):
            self.check()
