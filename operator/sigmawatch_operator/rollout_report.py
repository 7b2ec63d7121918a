"""Report: the status and Events one ModelRollout tick leaves. Pure, like `rollout_decide`.

Status mirrors the registry rollout (phase, step, weight, the last analysis
with every check; for an Istio rollout, its route and the weights on it) and
says why nothing started when nothing could. Events mark each transition
once: the status written last is what was announced.
"""

from __future__ import annotations

from typing import Any

from sigmawatch.registry.rollout_records import RolloutRecord
from sigmawatch.rollouts.policy import ACTIVE, Phase
from sigmawatch.rollouts.spec import Strategy
from sigmawatch.validation import format_version
from sigmawatch_operator import conditions as cond
from sigmawatch_operator.planning import format_time
from sigmawatch_operator.report import Event, Outcome
from sigmawatch_operator.rollout_act import Acted
from sigmawatch_operator.rollout_decide import Plan, Step
from sigmawatch_operator.rollout_observe import Observed, RecordedRollout
from sigmawatch_operator.rollout_route import Routed
from sigmawatch_operator.rollout_spec import Problem, spec_hash

PROGRESSING = "Progressing"
PROMOTED = "Promoted"
ROLLED_BACK = "RolledBack"
PENDING = "Pending"
SPEC_IGNORED = (
    "the spec changed after the rollout started; only spec.paused applies to a started "
    "rollout: apply a new ModelRollout to roll out another candidate"
)
# Events for the phase a rollout moved to: (type, reason).
_PHASE_EVENTS = {
    Phase.PROMOTED: ("Normal", "Promoted"),
    Phase.ROLLED_BACK: ("Warning", "RolledBack"),
    Phase.FAILED: ("Warning", "Failed"),
    Phase.ABORTED: ("Warning", "Aborted"),
    Phase.PAUSED: ("Normal", "Paused"),
}


def report(observed: Observed, plan: Plan, acted: Acted, routed: Routed | None = None) -> Outcome:
    if plan.step is Step.WAIT:
        return Outcome({}, whole=False)
    routed = routed or Routed()
    problem = acted.problem or plan.problem or routed.problem
    events = _problem_events(observed.recorded, problem)
    record = acted.record
    if record is None:
        return _not_started(observed, problem, events)
    recorded = observed.recorded
    current = spec_hash(observed.spec)
    started_hash = recorded.spec_hash if recorded.rollout == record.name else None
    ignored = started_hash is not None and started_hash != current
    if ignored and observed.ref.generation != recorded.observed_generation:
        events.append(Event("Warning", "SpecChangeIgnored", SPEC_IGNORED))
    status = rollout_status(record)
    if status["istio"] is not None:
        weights = routed.weights
        status["istio"] |= {
            "weights": weights.to_dict() if weights else None,  # None: could not be read
            "heldBy": routed.holder,
        }
    if routed.repaired is not None and record.istio is not None:
        where = f"route {record.istio.route} of VirtualService {record.istio.virtual_service}"
        message = (
            f"{where} had {routed.repaired.describe()}, not what {record.name} says; "
            f"set back to {100 - record.state.weight}% / {record.state.weight}%"
        )
        events.append(Event("Warning", "RouteRepaired", message))
    status |= {
        "observedGeneration": observed.ref.generation,
        "specHash": started_hash or current,
        "ignoredChange": SPEC_IGNORED if ignored else None,
        "conditions": cond.merge_conditions(
            list(recorded.conditions),
            _conditions(record, problem),
            now=format_time(observed.now),
            generation=observed.ref.generation,
        ),
    }
    return Outcome(status, _transition_events(recorded, record, acted) + events)


def rollout_status(record: RolloutRecord) -> dict[str, Any]:
    """What status shows of a registry rollout (never a per-series list)."""
    state = record.state
    canary = record.spec.strategy is Strategy.CANARY
    return {
        "rollout": record.name,
        "phase": state.phase.value,
        "strategy": record.spec.strategy.value,
        "step": state.step,
        "weight": state.weight,
        "steps": list(record.spec.steps) if canary else None,
        "fleet": record.fleet,
        "members": record.members,
        "seriesId": record.series_id,
        "stable": format_version(record.stable) if record.stable else None,
        "candidate": format_version(record.candidate) if record.candidate else None,
        "reason": record.reason,
        "failures": state.failures,
        "lastAnalysis": last_analysis(record.last_analysis),
        "startedAt": format_time(state.started_at),
        "finishedAt": format_time(record.finished_at) if record.finished_at else None,
        "istio": _route(record),
    }


def _route(record: RolloutRecord) -> dict[str, Any] | None:
    route = record.istio
    if route is None:
        return None
    return {
        "virtualService": route.virtual_service,
        "route": route.route,
        "stableSubset": route.stable_subset,
        "candidateSubset": route.candidate_subset,
    }


def _rounded(value: Any) -> Any:
    return round(value, 6) if isinstance(value, float) else value


def last_analysis(document: dict[str, Any] | None) -> dict[str, Any] | None:
    """The analysis as status shows it: the action, its reason and every check's numbers."""
    if not document:
        return None
    checks = [
        {key: _rounded(check.get(key)) for key in ("name", "value", "limit", "passed", "note")}
        for check in document.get("checks") or []
    ]
    return {
        "at": document.get("at"),
        "action": document.get("action"),
        "reason": document.get("reason"),
        "checks": checks,
    }


def _conditions(record: RolloutRecord, problem: Problem | None) -> list[dict[str, Any]]:
    phase = record.state.phase
    running = phase in ACTIVE and phase is not Phase.PAUSED
    reason = record.reason or ""
    return [
        cond.condition(PROGRESSING, running, phase.value, reason),
        cond.condition(
            PROMOTED,
            phase is Phase.PROMOTED,
            "Promoted" if phase is Phase.PROMOTED else "NotPromoted",
            reason if phase is Phase.PROMOTED else "",
        ),
        cond.condition(
            ROLLED_BACK,
            phase is Phase.ROLLED_BACK,
            "RolledBack" if phase is Phase.ROLLED_BACK else "NotRolledBack",
            reason if phase is Phase.ROLLED_BACK else "",
        ),
        _degraded(problem),
    ]


def _degraded(problem: Problem | None) -> dict[str, Any]:
    if problem is None:
        return cond.condition(cond.DEGRADED, False, "AsExpected", "")
    return cond.condition(cond.DEGRADED, True, problem[0], problem[1])


def _not_started(observed: Observed, problem: Problem | None, events: list[Event]) -> Outcome:
    generation = observed.ref.generation
    why = problem or ("Starting", "")
    new = [
        cond.condition(PROGRESSING, False, why[0], why[1]),
        cond.condition(PROMOTED, False, "NotStarted", ""),
        cond.condition(ROLLED_BACK, False, "NotStarted", ""),
        _degraded(problem),
    ]
    status: dict[str, Any] = {
        "observedGeneration": generation,
        "conditions": cond.merge_conditions(
            list(observed.recorded.conditions),
            new,
            now=format_time(observed.now),
            generation=generation,
        ),
    }
    if observed.lost is not None:  # keep what status said of the rollout it names
        return Outcome(status, events, whole=False)
    status |= {"phase": PENDING, "checkedAt": format_time(observed.now)}
    return Outcome(status, events)


def _problem_events(recorded: RecordedRollout, problem: Problem | None) -> list[Event]:
    """A problem once, when it is new: not on every tick it persists."""
    before = recorded.condition(cond.DEGRADED)
    if problem is None or (before.get("status"), before.get("reason")) == ("True", problem[0]):
        return []
    return [Event("Warning", problem[0], problem[1])]


def _transition_events(
    recorded: RecordedRollout, record: RolloutRecord, acted: Acted
) -> list[Event]:
    state, reason = record.state, record.reason or ""
    events = []
    if recorded.rollout != record.name:
        what = f"{record.spec.strategy.value} of {_describe(record)}"
        if acted.started:
            first = f", {state.weight}% first" if record.spec.strategy is Strategy.CANARY else ""
            started = f"rollout {record.name} started: {what}{first}"
            events.append(Event("Normal", "Started", started))
        else:
            events.append(Event("Normal", "Adopted", f"following rollout {record.name}: {what}"))
    seen = (recorded.phase, recorded.step) if recorded.rollout == record.name else (None, None)
    if (state.phase.value, state.step) == seen:
        return events
    if state.phase in _PHASE_EVENTS:
        kind, name = _PHASE_EVENTS[state.phase]
        if state.phase is Phase.PROMOTED:
            reason = f"{_describe(record)} promoted: {reason}"
        events.append(Event(kind, name, reason))
    elif seen[0] == Phase.PAUSED.value:
        at = f"at {state.weight}%" if state.phase is Phase.PROGRESSING else "shadowing"
        events.append(Event("Normal", "Resumed", f"resumed {at}: the step's window starts now"))
    elif seen[0] == state.phase.value and state.phase is Phase.PROGRESSING:
        events.append(Event("Normal", "Advanced", f"advanced to {state.weight}%: {reason}"))
    return events


def _describe(record: RolloutRecord) -> str:
    if record.istio is not None:
        route = record.istio
        return (
            f"the {route.candidate_subset} track (route {route.route} of VirtualService "
            f"{route.virtual_service})"
        )
    if record.series_id is not None and record.stable and record.candidate:
        return (
            f"{format_version(record.candidate)} of {record.series_id} "
            f"(stable {format_version(record.stable)})"
        )
    return f"{record.members} series"
