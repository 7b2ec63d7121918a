"""The service's driver of rollouts started through REST or the CLI.

Every pod runs it: each tick it analyses the API-driven rollouts that are
due (`analysis.intervalSeconds`) with the same policy the operator uses.
The registry's compare-and-set makes concurrent pods change a rollout
once; a pod that loses the race just sees the new revision next tick.
Rollouts a ModelRollout drives are the operator's and never touched here.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from sigmawatch.artifacts import ArtifactStore
from sigmawatch.audit import Actor, acting_as
from sigmawatch.registry import Registry
from sigmawatch.registry.rollout_records import Driver, RolloutRecord
from sigmawatch.rollouts import driver
from sigmawatch_inference.metrics_rollouts import RolloutGauges

log = logging.getLogger(__name__)

ACTOR = Actor("service")


class RolloutLoop:
    def __init__(
        self,
        registry: Registry,
        store: ArtifactStore,
        tick_s: float,
        gauges: RolloutGauges | None = None,
    ) -> None:
        self.registry = registry
        self.gauges = gauges
        self._last: dict[str, int] = {}  # the active API rollouts of the last tick
        self.analyzer = driver.Analyzer(registry, store)
        self.tick_s = tick_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sigmawatch-rollouts", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=timeout)

    def tick(self, now: datetime | None = None) -> int:
        """Analyse every due API-driven rollout once; returns how many were analysed."""
        now = now or datetime.now(UTC)
        analysed = 0
        active = [r for r in self.registry.active_rollouts() if r.driver is Driver.API]
        self._observe(active)
        for rollout in active:
            if driver.due(rollout, now):
                driver.analyse(self.analyzer, rollout, now)
                analysed += 1
        return analysed

    def _observe(self, active: list[RolloutRecord]) -> None:
        if self.gauges is not None:
            names = {r.name for r in active}
            gone = [self.registry.get_rollout(i) for n, i in self._last.items() if n not in names]
            self.gauges.observe(active, gone)
        self._last = {r.name: r.rollout_id for r in active}

    def _run(self) -> None:
        with acting_as(ACTOR):  # the audit log's name for the moves it makes
            self._ticks()

    def _ticks(self) -> None:
        while not self._stop.wait(self.tick_s):
            try:
                self.tick()
            except Exception:
                log.exception("rollout analysis failed; retrying next tick")
