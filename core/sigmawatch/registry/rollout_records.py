"""Rollouts as the registry stores and answers them (issue: model rollouts, REL-1..5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sigmawatch.arrays import BoolArray, FloatArray, IntArray
from sigmawatch.drift import EMPTY_BINS
from sigmawatch.rollouts.policy import ACTIVE, RolloutState
from sigmawatch.rollouts.spec import RolloutSpec, Strategy
from sigmawatch.rollouts.window import N_LATENCY
from sigmawatch.validation import format_version


class Driver(StrEnum):
    """Who runs a rollout's analysis and may change it: exactly one, recorded."""

    API = "api"  # started through REST or the CLI; the service's loop drives it
    OPERATOR = "operator"  # a ModelRollout; the operator's controller drives it


@dataclass(frozen=True, slots=True)
class RolloutMember:
    series_id: str
    stable: int
    candidate: int


@dataclass(frozen=True, slots=True)
class IstioRoute:
    """The VirtualService route an Istio rollout moves: weights between two subsets of
    the inference Deployments (a new image or runtime), not between model versions."""

    namespace: str
    virtual_service: str
    route: str
    stable_subset: str = "stable"
    candidate_subset: str = "candidate"

    def to_dict(self) -> dict[str, str]:
        return {
            "namespace": self.namespace,
            "virtualService": self.virtual_service,
            "route": self.route,
            "stableSubset": self.stable_subset,
            "candidateSubset": self.candidate_subset,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, str]) -> IstioRoute:
        return cls(
            raw["namespace"],
            raw["virtualService"],
            raw["route"],
            raw.get("stableSubset", "stable"),
            raw.get("candidateSubset", "candidate"),
        )


@dataclass(frozen=True, slots=True)
class NewRollout:
    spec: RolloutSpec
    members: tuple[RolloutMember, ...]  # none for an Istio rollout
    driver: Driver
    state: RolloutState
    driver_ref: str | None = None  # "<namespace>/<ModelRollout>" for the operator
    # A fleet rollout's canary weight is the share of *series* on the candidate.
    fleet: bool = False
    istio: IstioRoute | None = None  # judged on the pods' tracks, not on versions


@dataclass(frozen=True, slots=True)
class RolloutRecord:
    rollout_id: int
    spec: RolloutSpec
    state: RolloutState
    driver: Driver
    driver_ref: str | None
    fleet: bool
    members: int
    revision: int  # grows with every change: drivers update with compare-and-set
    reason: str | None
    last_analysis: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    # The single member's versions (a one-series rollout), for display.
    series_id: str | None = None
    stable: int | None = None
    candidate: int | None = None
    istio: IstioRoute | None = None
    correlation_id: str | None = None  # of the operation that started it (OBS-3)

    @property
    def name(self) -> str:
        return f"r{self.rollout_id}"

    @property
    def active(self) -> bool:
        return self.state.phase in ACTIVE

    def to_dict(self) -> dict[str, Any]:
        state = self.state
        return {
            "rollout": self.name,
            "strategy": self.spec.strategy.value,
            "phase": state.phase.value,
            "step": state.step,
            "weight": state.weight,
            "steps": list(self.spec.steps) if self.spec.strategy is Strategy.CANARY else [],
            "fleet": self.fleet,
            "members": self.members,
            "series_id": self.series_id,
            "stable": format_version(self.stable) if self.stable else None,
            "candidate": format_version(self.candidate) if self.candidate else None,
            "driver": self.driver.value,
            "driver_ref": self.driver_ref,
            "istio": self.istio.to_dict() if self.istio else None,
            "reason": self.reason,
            "failures": state.failures,
            "analysis": self.spec.to_dict()["analysis"],
            "last_analysis": self.last_analysis,
            "started_at": state.started_at.isoformat(),
            "step_started_at": state.step_started_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "revision": self.revision,
            "correlation_id": self.correlation_id,
        }


@dataclass(frozen=True, slots=True)
class Transition:
    at: datetime
    phase: str
    step: int
    weight: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "phase": self.phase,
            "step": self.step,
            "weight": self.weight,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Route:
    """What a serving pod needs to route one series of an active rollout."""

    rollout_id: int
    revision: int
    strategy: Strategy
    weight: int
    fleet: bool
    series_id: str
    stable: int
    candidate: int

    def role(self, version: int) -> str | None:
        """A version's part in the rollout: stable, candidate, or none."""
        return {self.stable: "stable", self.candidate: "candidate"}.get(version)

    def summary(self) -> dict[str, Any]:
        return {
            "rollout": f"r{self.rollout_id}",
            "strategy": self.strategy.value,
            "weight": self.weight,
            "stable": format_version(self.stable),
            "candidate": format_version(self.candidate),
        }


@dataclass(frozen=True, slots=True)
class StatsRow:
    """One pod's counts for one (series, version) in one time bucket, added on flush.

    A window [since, until) counts the buckets that end after `since` and start
    before `until`: every count is in the window it happened in, give or take
    one bucket's width at its edges. A row without an end is an instant."""

    series_id: str
    version: int
    bucket: datetime  # when the bucket starts
    predictions: int = 0
    anomalies: int = 0
    errors: int = 0
    fallbacks: int = 0
    latency: tuple[int, ...] = (0,) * N_LATENCY
    shadow_compared: int = 0
    shadow_agreed: int = 0
    bucket_end: datetime | None = None
    # Scored values per training-quantile bin (sigmawatch.drift), and those bins'
    # training shares when the pod knew them (they come from the version's stats).
    drift_bins: tuple[int, ...] = EMPTY_BINS
    training_shares: tuple[float, ...] | None = None

    @property
    def ends(self) -> datetime:
        return self.bucket_end or self.bucket


@dataclass(frozen=True, slots=True)
class TrackRow:
    """One pod's requests in one time bucket, under its track (stable or candidate):
    what an Istio rollout between two inference Deployments is judged on."""

    track: str
    bucket: datetime
    bucket_end: datetime
    requests: int = 0
    errors: int = 0  # answered with a 5xx
    latency: tuple[int, ...] = (0,) * N_LATENCY


@dataclass(frozen=True, slots=True)
class Feedback:
    """A series' labeled points: timestamps (ascending), their values and labels."""

    timestamps: IntArray
    values: FloatArray
    labels: BoolArray
