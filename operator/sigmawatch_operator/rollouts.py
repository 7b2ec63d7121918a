"""The ModelRollout controller: observe → decide → act → report, once per tick.

Blocking (Kubernetes and registry calls); the kopf handlers run it in a
thread, on every change and on a short timer. It keeps no rollout state of
its own: the registry holds phase, step and statistics, so a restarted
operator (or the other replica, once it leads) continues at the stored step.
`rollout_decide` and `rollout_report` are pure; `rollout_observe` and
`rollout_act` only read and write; `rollout_route` then gives an Istio
rollout's VirtualService route the weights the rollout says. Only its
metrics live in memory.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.registry import Registry
from sigmawatch.registry.rollout_records import Driver, RolloutRecord
from sigmawatch.rollouts import driver
from sigmawatch.rollouts.ended import ABORTED, ended_reason
from sigmawatch.rollouts.policy import Phase
from sigmawatch_operator.metrics import OperatorMetrics
from sigmawatch_operator.report import Event, Outcome
from sigmawatch_operator.rollout_act import Acted, RolloutExecutor
from sigmawatch_operator.rollout_decide import decide
from sigmawatch_operator.rollout_observe import (
    ModelGetter,
    RecordedRollout,
    RolloutRef,
    find_rollout,
    observe,
)
from sigmawatch_operator.rollout_report import report
from sigmawatch_operator.rollout_route import Router
from sigmawatch_operator.vs_client import VirtualServiceClient

log = logging.getLogger(__name__)

DELETED = "ModelRollout deleted"


def rollback_reason(acted: Acted) -> str | None:
    """The reason class a rollout ended unpromoted for this tick (rollouts.ended)."""
    return ended_reason(acted.decision) if acted.decision is not None else None


@dataclass
class RolloutController:
    get_model: ModelGetter
    registry: Registry
    analyzer: driver.Analyzer
    metrics: OperatorMetrics
    clock: Callable[[], datetime]
    virtual_services: VirtualServiceClient
    _phases: dict[str, str] = field(default_factory=dict)  # driver_ref → phase, for the gauge

    @property
    def executor(self) -> RolloutExecutor:
        return RolloutExecutor(self.registry, self.analyzer)

    @property
    def router(self) -> Router:
        return Router(self.virtual_services)

    def reconcile(self, body: dict[str, Any]) -> Outcome:
        router = self.router
        observed = observe(
            body,
            get_model=self.get_model,
            registry=self.registry,
            now=self.clock(),
            read_route=router.read,
        )
        plan = decide(observed)
        acted = self.executor.act(observed, plan)
        routed = router.sync(acted.record, observed.route, observed.recorded.weights)
        self._count(observed.ref, acted, observed.now)
        return report(observed, plan, acted, routed)

    def delete(self, body: dict[str, Any]) -> Event | None:
        """Abort the active rollout of a deleted ModelRollout: stable keeps production
        (for an Istio rollout, its route goes back to stable 100).

        Runs under the ModelRollout's finalizer, so the object stays until this
        succeeds; an outage raises and is retried."""
        ref = RolloutRef.from_metadata(body["metadata"])
        recorded = RecordedRollout.from_status(dict(body.get("status") or {}))
        self._forget(ref)
        record, lost = find_rollout(self.registry, ref, recorded)
        if record is None or lost is not None:
            return None
        was_active = record.active
        event = self._abort(record) if was_active else None
        if record.istio is not None:
            released = self.router.release(record, was_active)
            if released.problem is not None:
                log.warning(
                    "the route of a deleted ModelRollout was not released",
                    extra={"rollout": record.name, "error": released.problem[1]},
                )
        return event

    def _abort(self, record: RolloutRecord) -> Event | None:
        try:
            aborted = driver.abort(self.registry, record, Driver.OPERATOR, DELETED)
        except SigmawatchError as exc:
            if exc.code in (ErrorCode.ROLLOUT_NOT_ACTIVE, ErrorCode.ROLLOUT_DRIVER_MISMATCH):
                return None
            raise
        self.metrics.rollbacks.labels(ABORTED).inc()
        log.info("rollout aborted: its ModelRollout was deleted", extra={"rollout": record.name})
        if aborted.istio is not None:
            serves = f"the {aborted.istio.stable_subset} track takes 100%"
        else:
            serves = f"v{aborted.stable} serves" if aborted.stable else "stable serves"
        return Event("Warning", "Aborted", f"{aborted.name} aborted ({DELETED}); {serves}")

    # -- metrics ------------------------------------------------------------------------

    def _count(self, ref: RolloutRef, acted: Acted, now: datetime) -> None:
        record = acted.record
        key = ref.driver_ref
        if record is None:
            self._set_phase(key, "Pending")
            return
        self._set_phase(key, record.state.phase.value)
        self.metrics.rollout_weight.labels(key).set(record.state.weight)
        agreement = _agreement(record)
        if agreement is not None:
            self.metrics.rollout_agreement.labels(key).set(agreement)
        reason = rollback_reason(acted)
        if reason is not None:
            self.metrics.rollbacks.labels(reason).inc()
        if acted.decision is not None and record.state.phase is Phase.PROMOTED:
            seconds = (now - record.state.started_at).total_seconds()
            self.metrics.promotion_seconds.observe(max(seconds, 0.0))

    def _set_phase(self, key: str, phase: str) -> None:
        self._phases[key] = phase
        self._publish()

    def _forget(self, ref: RolloutRef) -> None:
        key = ref.driver_ref
        self._phases.pop(key, None)
        for gauge in (self.metrics.rollout_weight, self.metrics.rollout_agreement):
            with contextlib.suppress(KeyError):  # never set
                gauge.remove(key)
        self._publish()

    def _publish(self) -> None:
        counts: dict[str, int] = {"Pending": 0} | {p.value: 0 for p in Phase}
        for phase in self._phases.values():
            counts[phase] = counts.get(phase, 0) + 1
        for phase, n in counts.items():
            self.metrics.rollouts.labels(phase).set(n)


def _agreement(record: RolloutRecord) -> float | None:
    for check in (record.last_analysis or {}).get("checks") or []:
        if check.get("name") == "agreement" and isinstance(check.get("value"), int | float):
            return float(check["value"])
    return None
