"""Decide: one ModelRollout tick as a pure function from what was observed to a plan.

No I/O and no clock of its own (tests/operator/test_rollout_checks.py). The
registry rollout is analysed at most once per `analysis.intervalSeconds`
(`sigmawatch.rollouts.driver.due`), however often the operator's timer ticks.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sigmawatch.rollouts.driver import due
from sigmawatch.rollouts.policy import Phase
from sigmawatch_operator.rollout_observe import Observed
from sigmawatch_operator.rollout_spec import Problem, RolloutProblemError, Target, target


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
        if not paused and due(rollout, observed.now):
            return Plan(Step.ANALYSE)
        return Plan(Step.REPORT)
    if not observed.recheck:
        return Plan(Step.WAIT)
    resource = observed.resource
    if resource is None:
        return Plan(Step.REPORT, problem=observed.invalid)
    if observed.model is None:
        message = f"AnomalyModel {resource.model!r} does not exist in this namespace"
        return Plan(Step.REPORT, problem=("ModelNotFound", message))
    try:
        series = target(resource, observed.model.get("spec") or {})
    except RolloutProblemError as exc:
        return Plan(Step.REPORT, problem=exc.problem)
    return Plan(Step.START, target=series)
