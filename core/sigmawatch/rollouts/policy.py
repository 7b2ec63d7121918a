"""The rollout policy: a pure function from a rollout and its statistics to the next action.

No I/O and no clock of its own: the service's loop and the operator's
controller both call `judge` each analysis interval and store what it
returns, so the same inputs always give the same action (REL-1..5).

- Before anything, a step needs `minSamples` candidate points and
  `minStepSeconds`; a rollout past `maxDurationSeconds` fails back to stable.
- Health checks (error rate, P99 latency, the anomaly-rate explosion guard,
  and on labels FPR and F1) compare the candidate's current step with
  stable's whole rollout; one failing `failureLimit` intervals in a row rolls
  back. Checks without enough data never pass silently: they hold.
- Gates decide promotion: shadow agreement ≥ `agreementThreshold`, the
  last canary step, and the candidate beating stable on `primaryMetric`.
- Every rollback and failure leaves the candidate at 0% (stable at 100%).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sigmawatch.rollouts.spec import Limit, RolloutSpec, Strategy
from sigmawatch.rollouts.window import Confusion, VersionWindow


class Phase(StrEnum):
    PENDING = "Pending"
    SHADOWING = "Shadowing"
    PROGRESSING = "Progressing"
    PAUSED = "Paused"
    PROMOTED = "Promoted"
    ROLLED_BACK = "RolledBack"
    ABORTED = "Aborted"
    FAILED = "Failed"


ACTIVE = frozenset({Phase.PENDING, Phase.SHADOWING, Phase.PROGRESSING, Phase.PAUSED})


class Action(StrEnum):
    HOLD = "hold"
    ADVANCE = "advance"
    PROMOTE = "promote"
    ROLLBACK = "rollback"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class RolloutState:
    phase: Phase
    step: int  # index into the canary steps (0 for a shadow)
    weight: int  # percent of traffic (canary) or of series (fleet canary) on the candidate
    started_at: datetime
    step_started_at: datetime
    failures: int = 0  # consecutive intervals with a failing health check


def first_state(spec: RolloutSpec, now: datetime) -> RolloutState:
    if spec.strategy is Strategy.SHADOW:
        return RolloutState(Phase.SHADOWING, 0, 0, now, now)
    return RolloutState(Phase.PROGRESSING, 0, spec.steps[0], now, now)


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    value: float | None
    limit: float | None  # the bound the value was held to (after relative limits)
    passed: bool | None  # None: not enough data to tell
    note: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "value": self.value,
            "limit": self.limit,
            "passed": self.passed,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    reason: str
    state: RolloutState
    checks: tuple[CheckResult, ...] = ()


def judge(
    spec: RolloutSpec,
    state: RolloutState,
    stable: VersionWindow,
    candidate: VersionWindow,
    now: datetime,
) -> Decision:
    """`stable` covers the rollout so far; `candidate` the current step."""
    analysis = spec.analysis
    if state.phase not in ACTIVE:
        return Decision(Action.HOLD, f"the rollout is {state.phase.value}", state)
    if state.phase is Phase.PAUSED:
        return Decision(Action.HOLD, "paused", state)
    elapsed = (now - state.started_at).total_seconds()
    if elapsed >= analysis.max_duration_seconds:
        reason = f"not promoted within maxDurationSeconds ({analysis.max_duration_seconds:g} s)"
        return Decision(Action.FAIL, reason, _ended(state, Phase.FAILED))
    shadow = spec.strategy is Strategy.SHADOW
    samples = candidate.shadow_compared if shadow else candidate.predictions
    in_step = (now - state.step_started_at).total_seconds()
    if samples < analysis.min_samples or in_step < analysis.min_step_seconds:
        reason = (
            f"waiting: {samples} of {analysis.min_samples} samples, "
            f"{in_step:.0f} of {analysis.min_step_seconds:g} s at this step"
        )
        return Decision(Action.HOLD, reason, state)
    checks = health_checks(spec, stable, candidate)
    failing = [c for c in checks if c.passed is False]
    if failing:
        failures = state.failures + 1
        named = "; ".join(f"{c.name} {_shown(c.value)} beyond {_shown(c.limit)}" for c in failing)
        if failures >= analysis.failure_limit:
            reason = f"{named} for {failures} consecutive intervals"
            return Decision(
                Action.ROLLBACK, reason, _ended(state, Phase.ROLLED_BACK), tuple(checks)
            )
        reason = f"{named} ({failures} of {analysis.failure_limit} before rollback)"
        return Decision(
            Action.HOLD, reason, dataclasses.replace(state, failures=failures), tuple(checks)
        )
    healthy = dataclasses.replace(state, failures=0)
    gates = promotion_gates(spec, stable, candidate)
    all_checks = tuple(checks) + tuple(gates)
    waiting = [c for c in all_checks if c.passed is None]
    if waiting:
        reason = "waiting: " + "; ".join(f"{c.name}: {c.note}" for c in waiting)
        return Decision(Action.HOLD, reason, healthy, all_checks)
    closed = [c for c in gates if c.passed is False]
    if closed:
        reason = "not promoted yet: " + "; ".join(
            f"{c.name} {_shown(c.value)} short of {_shown(c.limit)}" for c in closed
        )
        return Decision(Action.HOLD, reason, healthy, all_checks)
    if not shadow and state.step < len(spec.steps) - 1:
        step = state.step + 1
        advanced = dataclasses.replace(
            healthy, step=step, weight=spec.steps[step], step_started_at=now
        )
        reason = f"every check passed at {state.weight}%: {spec.steps[step]}% next"
        return Decision(Action.ADVANCE, reason, advanced, all_checks)
    promoted = dataclasses.replace(healthy, phase=Phase.PROMOTED, weight=100)
    return Decision(Action.PROMOTE, "every check and gate passed", promoted, all_checks)


def _ended(state: RolloutState, phase: Phase) -> RolloutState:
    return dataclasses.replace(state, phase=phase, weight=0)


def _shown(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


# -- health checks ---------------------------------------------------------------------


def health_checks(
    spec: RolloutSpec, stable: VersionWindow, candidate: VersionWindow
) -> list[CheckResult]:
    checks = spec.analysis.checks
    results = [
        _bounded("errorRate", candidate.error_rate, stable.error_rate, checks.error_rate),
        _bounded(
            "latencyP99Ms",
            candidate.latency_quantile_ms(0.99),
            stable.latency_quantile_ms(0.99),
            checks.latency_p99_ms,
        ),
        _bounded("anomalyRate", candidate.anomaly_rate, stable.anomaly_rate, checks.anomaly_rate),
    ]
    min_labels = spec.analysis.min_labels
    if checks.false_positive_rate is not None:
        results.append(
            _labeled(
                "falsePositiveRate",
                stable.labeled,
                candidate.labeled,
                checks.false_positive_rate,
                min_labels,
                lambda c: c.false_positive_rate,
            )
        )
    if checks.f1 is not None:
        results.append(
            _labeled("f1", stable.labeled, candidate.labeled, checks.f1, min_labels, lambda c: c.f1)
        )
    return results


def _upper(stable: float | None, limit: Limit) -> float | None:
    """The highest value the candidate may have: every upper limit that applies."""
    bounds = [limit.max] if limit.max is not None else []
    if stable is not None and limit.max_increase is not None:
        bounds.append(stable + limit.max_increase)
    if limit.max_ratio is not None and stable is not None:
        bounds.append(max(stable, limit.floor or 0.0) * limit.max_ratio)
    return min(bounds) if bounds else None


def _lower(stable: float | None, limit: Limit) -> float | None:
    bounds = [limit.min] if limit.min is not None else []
    if stable is not None and limit.max_decrease is not None:
        bounds.append(stable - limit.max_decrease)
    return max(bounds) if bounds else None


def _bounded(name: str, value: float | None, stable: float | None, limit: Limit) -> CheckResult:
    """Lower is better: the candidate may not exceed its upper bound."""
    upper = _upper(stable, limit)
    if value is None:
        return CheckResult(name, None, upper, None, "no candidate data yet")
    if upper is None:
        return CheckResult(name, value, None, True, "no bound applies yet")
    if limit.floor is not None and value <= limit.floor:
        return CheckResult(name, value, upper, True, "below the floor")
    return CheckResult(name, value, upper, value <= upper)


def _labeled(
    name: str,
    stable: Confusion,
    candidate: Confusion,
    limit: Limit,
    min_labels: int,
    metric: Callable[[Confusion], float | None],
) -> CheckResult:
    if min(stable.labels, candidate.labels) < min_labels:
        note = f"{min(stable.labels, candidate.labels)} of {min_labels} labels"
        return CheckResult(name, metric(candidate), None, None, note)
    value, baseline = metric(candidate), metric(stable)
    lower_is_better = name == "falsePositiveRate"
    bound = _upper(baseline, limit) if lower_is_better else _lower(baseline, limit)
    if value is None or bound is None:
        return CheckResult(name, value, bound, True, "no bound applies")
    passed = value <= bound if lower_is_better else value >= bound
    return CheckResult(name, value, bound, passed)


# -- promotion gates -------------------------------------------------------------------------

_METRICS: dict[str, Callable[[Confusion], float | None]] = {
    "f1": lambda c: c.f1,
    "precision": lambda c: c.precision,
    "recall": lambda c: c.recall,
    "falsePositiveRate": lambda c: c.false_positive_rate,
}


def promotion_gates(
    spec: RolloutSpec, stable: VersionWindow, candidate: VersionWindow
) -> list[CheckResult]:
    analysis = spec.analysis
    gates = []
    if spec.strategy is Strategy.SHADOW:
        agreement = candidate.agreement
        gates.append(
            CheckResult(
                "agreement",
                agreement,
                analysis.agreement_threshold,
                None if agreement is None else agreement >= analysis.agreement_threshold,
            )
        )
    primary = analysis.primary_metric
    if primary is not None:
        labels = min(stable.labeled.labels, candidate.labeled.labels)
        value, baseline = _METRICS[primary](candidate.labeled), _METRICS[primary](stable.labeled)
        if labels < analysis.min_labels or value is None or baseline is None:
            note = f"{labels} of {analysis.min_labels} labels"
            gates.append(CheckResult(f"primary {primary}", value, baseline, None, note))
        else:
            better = value < baseline if primary == "falsePositiveRate" else value > baseline
            gates.append(CheckResult(f"primary {primary}", value, baseline, better, "vs stable"))
    return gates
