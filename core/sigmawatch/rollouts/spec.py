"""What a rollout is asked to do: strategy, canary steps and the analysis spec (REL-1..5).

One spec, the same camelCase fields in a ModelRollout and in the REST body.
Every field has a default; small values (1 s intervals, a handful of
samples) are accepted so a demo or a test can run a rollout in a minute.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from sigmawatch.errors import ErrorCode, SigmawatchError


class Strategy(StrEnum):
    SHADOW = "shadow"  # answer from stable, score the candidate beside it, compare
    CANARY = "canary"  # send a growing share of traffic to the candidate


DEFAULT_STEPS = (5, 25, 50, 100)
PRIMARY_METRICS = ("f1", "precision", "recall", "falsePositiveRate")


def invalid(message: str, **details: Any) -> SigmawatchError:
    return SigmawatchError(ErrorCode.INVALID_ROLLOUT, message, **details)


@dataclass(frozen=True, slots=True)
class Limit:
    """A check's thresholds: absolute, and relative to stable; None: not checked."""

    max: float | None = None
    min: float | None = None
    max_increase: float | None = None  # candidate ≤ stable + this
    max_decrease: float | None = None  # candidate ≥ stable − this
    max_ratio: float | None = None  # candidate ≤ stable × this
    floor: float | None = None  # below this the candidate is never judged worse


@dataclass(frozen=True, slots=True)
class Checks:
    error_rate: Limit = field(default_factory=lambda: Limit(max_increase=0.01))
    latency_p99_ms: Limit = field(default_factory=lambda: Limit(max_ratio=2.0, floor=1.0))
    # The anomaly-rate explosion guard: a candidate flagging far more than stable.
    anomaly_rate: Limit = field(default_factory=lambda: Limit(max_ratio=3.0, floor=0.01))
    # On ground-truth labels (POST .../feedback); off unless asked for.
    false_positive_rate: Limit | None = None
    f1: Limit | None = None


@dataclass(frozen=True, slots=True)
class Analysis:
    interval_seconds: float = 30.0
    min_samples: int = 500
    min_step_seconds: float = 60.0
    max_duration_seconds: float = 86_400.0
    failure_limit: int = 3
    agreement_threshold: float = 0.95
    min_labels: int = 100
    primary_metric: str | None = None
    checks: Checks = field(default_factory=Checks)

    @property
    def uses_labels(self) -> bool:
        return (
            self.checks.false_positive_rate is not None
            or self.checks.f1 is not None
            or self.primary_metric is not None
        )


@dataclass(frozen=True, slots=True)
class RolloutSpec:
    strategy: Strategy
    steps: tuple[int, ...] = DEFAULT_STEPS
    analysis: Analysis = field(default_factory=Analysis)

    def to_dict(self) -> dict[str, Any]:
        """The camelCase form it was parsed from, defaults filled in."""
        return {
            "strategy": self.strategy.value,
            "steps": list(self.steps),
            "analysis": _camel(asdict(self.analysis)),
        }


_ANALYSIS_FIELDS = {
    "intervalSeconds": ("interval_seconds", float, 0.1),
    "minSamples": ("min_samples", int, 1),
    "minStepSeconds": ("min_step_seconds", float, 0.0),
    "maxDurationSeconds": ("max_duration_seconds", float, 1.0),
    "failureLimit": ("failure_limit", int, 1),
    "agreementThreshold": ("agreement_threshold", float, 0.0),
    "minLabels": ("min_labels", int, 1),
}
_CHECKS = {
    "errorRate": "error_rate",
    "latencyP99Ms": "latency_p99_ms",
    "anomalyRate": "anomaly_rate",
    "falsePositiveRate": "false_positive_rate",
    "f1": "f1",
}
_LIMIT_FIELDS = {
    "max": "max",
    "min": "min",
    "maxIncrease": "max_increase",
    "maxDecrease": "max_decrease",
    "maxRatio": "max_ratio",
    "floor": "floor",
}


def _camel(value: Any) -> Any:
    """snake_case keys as the camelCase the spec is written in (latency_p99_ms → latencyP99Ms)."""
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        head, *rest = key.split("_")
        out[head + "".join(part.title() for part in rest)] = _camel(item)
    return out


def _object(raw: Any, where: str) -> Mapping[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise invalid(f"{where} must be an object", field=where)
    return raw


def _unknown(raw: Mapping[str, Any], allowed: Any, where: str) -> None:
    extra = sorted(set(raw) - set(allowed))
    if extra:
        raise invalid(
            f"{where} has no field {extra[0]!r}",
            field=f"{where}.{extra[0]}",
            allowed=sorted(allowed),
        )


def _number(value: Any, where: str, kind: type, minimum: float) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise invalid(f"{where} must be a number", field=where, value=str(value)[:40])
    if kind is int and value != int(value):
        raise invalid(f"{where} must be a whole number", field=where, value=value)
    if value < minimum:
        raise invalid(f"{where} must be at least {minimum:g}", field=where, value=value)
    return kind(value)


def _limit(raw: Any, where: str, base: Limit | None) -> Limit:
    body = _object(raw, where)
    _unknown(body, _LIMIT_FIELDS, where)
    values = asdict(base) if base is not None else {}
    for name, attribute in _LIMIT_FIELDS.items():
        if name in body:
            values[attribute] = (
                None if body[name] is None else _number(body[name], f"{where}.{name}", float, 0.0)
            )
    return Limit(**values)


_LABEL_CHECKS = frozenset({"false_positive_rate", "f1"})


def _check(checks: Mapping[str, Any], name: str) -> Limit | None:
    """A check as given (its unnamed thresholds defaulted), or its default; null turns it
    off (a label check) or leaves it without bounds (a traffic check)."""
    attribute = _CHECKS[name]
    default: Limit | None = getattr(Checks(), attribute)
    if name not in checks:
        return default
    if checks[name] is None:
        return None if attribute in _LABEL_CHECKS else Limit()
    return _limit(checks[name], f"analysis.checks.{name}", default)


def _steps(raw: Any) -> tuple[int, ...]:
    if raw is None:
        return DEFAULT_STEPS
    if not isinstance(raw, list) or not raw:
        raise invalid("steps must be a non-empty list of percentages", field="steps")
    steps = tuple(_number(s, "steps", int, 1) for s in raw)
    if any(b <= a for a, b in itertools.pairwise(steps)) or steps[-1] != 100:
        raise invalid("steps must increase and end at 100", field="steps", steps=list(steps))
    return steps


def parse_rollout_spec(raw: Mapping[str, Any]) -> RolloutSpec:
    """A rollout request's strategy, steps and analysis; INVALID_ROLLOUT when wrong."""
    strategy = raw.get("strategy")
    if strategy not in tuple(Strategy):
        raise invalid("strategy must be 'shadow' or 'canary'", field="strategy")
    body = _object(raw.get("analysis"), "analysis")
    _unknown(body, {*_ANALYSIS_FIELDS, "primaryMetric", "checks"}, "analysis")
    values: dict[str, Any] = {}
    for name, (attribute, kind, minimum) in _ANALYSIS_FIELDS.items():
        if name in body:
            values[attribute] = _number(body[name], f"analysis.{name}", kind, minimum)
    if values.get("agreement_threshold", 0.0) > 1.0:
        raise invalid("analysis.agreementThreshold is a share: 0 to 1", field="agreementThreshold")
    primary = body.get("primaryMetric")
    if primary is not None and primary not in PRIMARY_METRICS:
        raise invalid(
            "analysis.primaryMetric is a label metric",
            field="primaryMetric",
            allowed=PRIMARY_METRICS,
        )
    checks_raw = _object(body.get("checks"), "analysis.checks")
    _unknown(checks_raw, _CHECKS, "analysis.checks")
    checks = Checks(
        error_rate=_check(checks_raw, "errorRate") or Limit(),
        latency_p99_ms=_check(checks_raw, "latencyP99Ms") or Limit(),
        anomaly_rate=_check(checks_raw, "anomalyRate") or Limit(),
        false_positive_rate=_check(checks_raw, "falsePositiveRate"),
        f1=_check(checks_raw, "f1"),
    )
    analysis = Analysis(**values, primary_metric=primary, checks=checks)
    return RolloutSpec(Strategy(strategy), _steps(raw.get("steps")), analysis)
