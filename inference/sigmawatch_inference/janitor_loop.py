"""The service's janitor: a sweep shortly after start-up, then every interval."""

from __future__ import annotations

import logging
import threading

from sigmawatch.artifacts import ArtifactStore
from sigmawatch.janitor import sweep
from sigmawatch.registry import Registry

log = logging.getLogger(__name__)

FIRST_SWEEP_S = 5.0  # after readiness, so the sweep never delays it


class JanitorLoop:
    def __init__(
        self, registry: Registry, store: ArtifactStore, *, interval_s: float, grace_s: float
    ) -> None:
        self.registry = registry
        self.store = store
        self.interval_s = interval_s
        self.grace_s = grace_s
        self.sweeps = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sigmawatch-janitor", daemon=True)

    def start(self) -> None:
        if self.interval_s > 0:
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=timeout)

    def _run(self) -> None:
        wait = FIRST_SWEEP_S
        while not self._stop.wait(wait):
            wait = self.interval_s
            try:
                sweep(self.registry, self.store, grace_s=self.grace_s)
                self.sweeps += 1
            except Exception:
                # Storage may be down; the next round tries again.
                log.exception("janitor sweep failed")
