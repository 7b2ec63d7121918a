"""Observe: everything one ModelRollout tick decides from, read in one place.

Reads only: the spec, the recorded status, the registry rollout this
ModelRollout drives, and (before it started) the AnomalyModel it names; for
an Istio rollout, its VirtualService route and (before it started) whether
another Istio rollout runs. All rollout state lives in the registry, so a
restarted operator or the other replica continues from the stored phase and
step.

Which registry rollout is this object's: the one `status.rollout` names;
without one, the most recent rollout with this `driver_ref` when it is
active (adopted: nothing else can drive it) or was created after this object
(status was lost after the start). An ended rollout of an earlier object of
the same name is not this one's: a new object starts a new rollout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.registry import Registry
from sigmawatch.registry.rollout_records import Driver, IstioRoute, RolloutRecord
from sigmawatch.rollouts.spec import Analysis
from sigmawatch_operator.istio_route import Weights
from sigmawatch_operator.planning import parse_time
from sigmawatch_operator.rollout_route import Seen
from sigmawatch_operator.rollout_spec import (
    Problem,
    RolloutProblemError,
    RolloutResource,
    parse_rollout_resource,
)

type ModelGetter = Callable[[str, str], dict[str, Any] | None]  # (namespace, name)
type RouteReader = Callable[[IstioRoute], Seen]


@dataclass(frozen=True, slots=True)
class RolloutRef:
    name: str
    namespace: str
    generation: int | None
    created: datetime | None

    @classmethod
    def from_metadata(cls, meta: dict[str, Any]) -> RolloutRef:
        return cls(
            name=meta["name"],
            namespace=meta["namespace"],
            generation=meta.get("generation"),
            created=parse_time(meta.get("creationTimestamp")),
        )

    @property
    def driver_ref(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class RecordedRollout:
    """What the last tick wrote to status, read back."""

    rollout: str | None = None  # "r17"
    phase: str | None = None
    step: int | None = None
    spec_hash: str | None = None
    checked_at: datetime | None = None
    observed_generation: int | None = None
    conditions: tuple[dict[str, Any], ...] = ()
    weights: Weights | None = None  # an Istio route's weights after the last tick

    @classmethod
    def from_status(cls, status: dict[str, Any]) -> RecordedRollout:
        return cls(
            weights=Weights.from_dict((status.get("istio") or {}).get("weights")),
            rollout=status.get("rollout"),
            phase=status.get("phase"),
            step=status.get("step"),
            spec_hash=status.get("specHash"),
            checked_at=parse_time(status.get("checkedAt")),
            observed_generation=status.get("observedGeneration"),
            conditions=tuple(status.get("conditions") or ()),
        )

    def condition(self, kind: str) -> dict[str, Any]:
        return next((c for c in self.conditions if c.get("type") == kind), {})


@dataclass(frozen=True, slots=True)
class Observed:
    ref: RolloutRef
    spec: dict[str, Any]
    resource: RolloutResource | None
    invalid: Problem | None  # why the spec cannot start a rollout
    recorded: RecordedRollout
    rollout: RolloutRecord | None  # this object's registry rollout
    lost: Problem | None  # status names a rollout that is missing or not this object's
    recheck: bool  # not started: the checks before a start are due
    model: dict[str, Any] | None  # the AnomalyModel, read when a start is considered
    now: datetime
    route: Seen | None = None  # istio: the rollout's route (or the spec's, before the start)
    competing: RolloutRecord | None = None  # istio, not started: another running Istio rollout

    @property
    def paused(self) -> bool:
        return bool(self.spec.get("paused", False))


def find_rollout(
    registry: Registry, ref: RolloutRef, recorded: RecordedRollout
) -> tuple[RolloutRecord | None, Problem | None]:
    if recorded.rollout:
        try:
            record = registry.get_rollout(int(recorded.rollout.lstrip("r")))
        except SigmawatchError as exc:
            if exc.code is not ErrorCode.ROLLOUT_NOT_FOUND:
                raise
            return None, (exc.code.value, f"status names {recorded.rollout}: {exc.message}")
        if record.driver is not Driver.OPERATOR or record.driver_ref != ref.driver_ref:
            owner = record.driver_ref or f"the {record.driver.value}"
            message = f"{record.name} is driven by {owner}, not by this ModelRollout"
            return None, (ErrorCode.ROLLOUT_DRIVER_MISMATCH.value, message)
        return record, None
    driven = registry.driven_rollout(ref.driver_ref)
    if driven is None or driven.driver is not Driver.OPERATOR:
        return None, None
    if driven.active:
        return driven, None
    # creationTimestamp has whole seconds: an earlier object's rollout ended before it.
    if ref.created is not None and driven.created_at >= ref.created:
        return driven, None
    return None, None


def recheck_due(
    recorded: RecordedRollout, generation: int | None, interval_s: float, now: datetime
) -> bool:
    """Before the start, checks run on every spec change and once per analysis interval."""
    if recorded.checked_at is None or recorded.observed_generation != generation:
        return True
    return now - recorded.checked_at >= timedelta(seconds=interval_s)


def observe(
    body: dict[str, Any],
    *,
    get_model: ModelGetter,
    registry: Registry,
    now: datetime,
    read_route: RouteReader | None = None,
) -> Observed:
    ref = RolloutRef.from_metadata(body["metadata"])
    spec = dict(body.get("spec") or {})
    recorded = RecordedRollout.from_status(dict(body.get("status") or {}))
    resource: RolloutResource | None = None
    invalid: Problem | None = None
    try:
        resource = parse_rollout_resource(spec)
    except RolloutProblemError as exc:
        invalid = exc.problem
    rollout, lost = find_rollout(registry, ref, recorded)
    recheck, model = False, None
    route: Seen | None = None
    competing: RolloutRecord | None = None
    if rollout is not None and rollout.istio is not None and read_route is not None:
        route = read_route(rollout.istio)
    if rollout is None and lost is None:
        interval = (resource.spec.analysis if resource else Analysis()).interval_seconds
        recheck = recheck_due(recorded, ref.generation, interval, now)
        if recheck and resource is not None and resource.istio is not None:
            if read_route is not None:
                route = read_route(resource.istio.in_namespace(ref.namespace))
            others = [r for r in registry.active_rollouts() if r.istio is not None]
            competing = others[0] if others else None
        elif recheck and resource is not None and resource.model is not None:
            model = get_model(ref.namespace, resource.model)
    return Observed(
        ref, spec, resource, invalid, recorded, rollout, lost, recheck, model, now, route, competing
    )
