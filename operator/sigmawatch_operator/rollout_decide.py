"""Decide: one ModelRollout tick as a pure function from what was observed to a plan.

No I/O and no clock of its own (tests/operator/test_rollout_checks.py). The
registry rollout is analysed at most once per `analysis.intervalSeconds`
(`sigmawatch.rollouts.driver.due`), however often the operator's timer ticks.
An Istio rollout is analysed only while its route has the weights it says:
a route that cannot be set, or was edited, is set first (`rollout_route`),
so no step is judged on traffic the rollout did not send.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sigmawatch.registry.rollout_records import RolloutRecord
from sigmawatch.rollouts.driver import due
from sigmawatch.rollouts.policy import Phase
from sigmawatch_operator.istio_route import Weights
from sigmawatch_operator.rollout_observe import Observed
from sigmawatch_operator.rollout_spec import Problem, RolloutProblemError, Target, target

ISTIO_IN_PROGRESS = "IstioRolloutInProgress"


class Step(StrEnum):
    WAIT = "wait"  # not started, checks not due: nothing to do or to write
    REPORT = "report"  # write status from what is known
    START = "start"
    ANALYSE = "analyse"
    PAUSE = "pause"
    RESUME = "resume"


@dataclass(frozen=True, slots=True)
class Plan:
    step: Step
    target: Target | None = None  # START: the series to roll out
    problem: Problem | None = None  # why nothing can start, for status


def decide(observed: Observed) -> Plan:
    if observed.lost is not None:
        return Plan(Step.REPORT, problem=observed.lost)
    rollout = observed.rollout
    if rollout is not None:
        if not rollout.active:
            return Plan(Step.REPORT)
        paused = rollout.state.phase is Phase.PAUSED
        if observed.paused and not paused:
            return Plan(Step.PAUSE)
        if paused and not observed.paused:
            return Plan(Step.RESUME)
        if not paused and due(rollout, observed.now) and _routed(observed, rollout):
            return Plan(Step.ANALYSE)
        return Plan(Step.REPORT)
    if not observed.recheck:
        return Plan(Step.WAIT)
    resource = observed.resource
    if resource is None:
        return Plan(Step.REPORT, problem=observed.invalid)
    if resource.istio is not None:
        return _istio_start(observed)
    if observed.model is None:
        message = f"AnomalyModel {resource.model!r} does not exist in this namespace"
        return Plan(Step.REPORT, problem=("ModelNotFound", message))
    try:
        series = target(resource, observed.model.get("spec") or {})
    except RolloutProblemError as exc:
        return Plan(Step.REPORT, problem=exc.problem)
    return Plan(Step.START, target=series)


def _routed(observed: Observed, rollout: RolloutRecord) -> bool:
    """Not an Istio rollout, or its route has the weights the rollout says."""
    if rollout.istio is None:
        return True
    seen = observed.route
    return seen is not None and not isinstance(seen, tuple) and seen.weights == Weights.of(rollout)


def _istio_start(observed: Observed) -> Plan:
    if isinstance(observed.route, tuple):
        return Plan(Step.REPORT, problem=observed.route)
    other = observed.competing
    if other is not None:
        owner = f" ({other.driver_ref})" if other.driver_ref else ""
        message = (
            f"Istio rollout {other.name}{owner} is running: the tracks' statistics are shared, "
            "so one Istio rollout runs at a time; this one starts when it ends"
        )
        return Plan(Step.REPORT, problem=(ISTIO_IN_PROGRESS, message))
    return Plan(Step.START)
