"""The AnomalyModel reconcile: observe → decide → act → report.

Blocking (Kubernetes and registry calls); the kopf handlers run it in a
thread. It keeps no state between calls: everything it needs is in the
object's status, its Jobs and the registry, so a restarted operator (or
the other replica) picks up where the last one stopped. `decide` and
`report` are pure and carry the logic; `observe` and `act` only read and
write.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sigmawatch.registry import Registry
from sigmawatch_operator.act import Acted, Executor
from sigmawatch_operator.decide import Plan, decide
from sigmawatch_operator.job_client import JobClient
from sigmawatch_operator.metrics import OperatorMetrics
from sigmawatch_operator.observe import observe
from sigmawatch_operator.report import Outcome, report


@dataclass
class Reconciler:
    jobs: JobClient
    registry: Registry
    executor: Executor
    metrics: OperatorMetrics
    clock: Callable[[], datetime]

    def reconcile(self, body: dict[str, Any]) -> Outcome:
        observed = observe(body, jobs=self.jobs, registry=self.registry, now=self.clock())
        plan = decide(observed)
        acted = self.executor.act(observed, plan)
        self._count(plan, acted)
        return report(observed, plan, acted)

    def _count(self, plan: Plan, acted: Acted) -> None:
        if plan.record is not None:
            outcome = "succeeded" if plan.record.job.succeeded else "failed"
            self.metrics.job_outcomes.labels(outcome).inc()
        if acted.started is not None and not acted.started.adopted:
            self.metrics.jobs_created.inc()
