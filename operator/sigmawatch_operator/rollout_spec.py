"""A ModelRollout's spec as typed values, and the series it covers.

The API server's schema rejects malformed resources; this adds what a schema
cannot check, with the same core parsing the REST API uses
(`sigmawatch.rollouts.spec.parse_rollout_spec`, `sigmawatch.detectors.DetectorSpec`).
Every failure is a `Problem`: a stable code and a message for status.

Two kinds: `inApp` rolls a model version out (modelRef, candidate), and
`istio` moves a VirtualService route between two inference Deployments (a new
image or runtime): it names the route and no model, and is always a canary.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from sigmawatch.detectors import DetectorSpec
from sigmawatch.errors import SigmawatchError
from sigmawatch.registry.rollout_records import IstioRoute
from sigmawatch.rollouts.spec import RolloutSpec, Strategy, parse_rollout_spec
from sigmawatch.validation import format_version, parse_version, validate_series_id
from sigmawatch_operator.model_spec import InvalidSpecError, parse_spec

type Problem = tuple[str, str]  # (code, message)

IN_APP = "inApp"
ISTIO = "istio"
INVALID = "InvalidSpec"


class RolloutProblemError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.problem: Problem = (code, message)


@dataclass(frozen=True, slots=True)
class Candidate:
    """Exactly one of: a version, a training run (Job name), a detector spec."""

    version: int | None = None
    run_id: str | None = None
    detector: DetectorSpec | None = None

    def query(self) -> dict[str, Any]:
        """The keyword arguments of `Registry.resolve_members` that name it."""
        if self.version is not None:
            return {"candidate": self.version}
        if self.run_id is not None:
            return {"run_id": self.run_id}
        assert self.detector is not None
        return {"spec_hash": self.detector.spec_hash}

    def describe(self) -> str:
        if self.version is not None:
            return format_version(self.version)
        if self.run_id is not None:
            return f"the version training run {self.run_id} produced"
        assert self.detector is not None
        return f"the newest {self.detector.kind} version with params {self.detector.params}"


@dataclass(frozen=True, slots=True)
class MeshRoute:
    """`spec.istio`: the route of a VirtualService in the ModelRollout's namespace."""

    virtual_service: str
    route: str
    stable_subset: str = "stable"
    candidate_subset: str = "candidate"

    def in_namespace(self, namespace: str) -> IstioRoute:
        return IstioRoute(
            namespace, self.virtual_service, self.route, self.stable_subset, self.candidate_subset
        )


@dataclass(frozen=True, slots=True)
class RolloutResource:
    model: str | None  # inApp only, like candidate
    series_id: str | None
    fleet: bool
    candidate: Candidate | None
    spec: RolloutSpec
    routing: str
    paused: bool
    istio: MeshRoute | None = None  # istio only


@dataclass(frozen=True, slots=True)
class Target:
    """The series a rollout starts on: listed ids, or every series with a prefix."""

    series_ids: tuple[str, ...] | None
    prefix: str | None
    fleet: bool

    @property
    def single(self) -> str | None:
        if self.fleet or self.series_ids is None or len(self.series_ids) != 1:
            return None
        return self.series_ids[0]

    def describe(self) -> str:
        if self.single is not None:
            return self.single
        if self.series_ids is not None:
            return f"{len(self.series_ids)} listed series"
        return f"the series with prefix {self.prefix}"


def _candidate(raw: Any) -> Candidate:
    if not isinstance(raw, Mapping):
        raise RolloutProblemError(INVALID, "candidate must be an object")
    named = [key for key in ("version", "trainingRun", "detector") if raw.get(key) is not None]
    if len(named) != 1:
        raise RolloutProblemError(
            INVALID, "set exactly one of candidate.version, trainingRun, detector"
        )
    if named[0] == "version":
        return Candidate(version=parse_version(raw["version"]))
    if named[0] == "trainingRun":
        return Candidate(run_id=str(raw["trainingRun"]))
    return Candidate(detector=DetectorSpec.parse(raw["detector"]))


def _mesh_route(raw: Mapping[str, Any], spec: RolloutSpec) -> MeshRoute:
    named = [key for key in ("modelRef", "candidate", "seriesId", "fleet") if key in raw]
    if named:
        raise RolloutProblemError(
            INVALID,
            f"trafficRouting: istio moves traffic between two inference Deployments and names "
            f"no model: drop {', '.join(named)}",
        )
    istio = raw.get("istio")
    if not isinstance(istio, Mapping) or not istio.get("virtualService") or not istio.get("route"):
        raise RolloutProblemError(
            INVALID, "trafficRouting: istio needs istio.virtualService and route"
        )
    route = MeshRoute(
        str(istio["virtualService"]),
        str(istio["route"]),
        str(istio.get("stableSubset") or "stable"),
        str(istio.get("candidateSubset") or "candidate"),
    )
    if route.stable_subset == route.candidate_subset:
        raise RolloutProblemError(INVALID, "istio.stableSubset and candidateSubset must differ")
    if spec.strategy is not Strategy.CANARY:
        raise RolloutProblemError(INVALID, "trafficRouting: istio needs strategy: canary")
    if spec.analysis.uses_labels:
        raise RolloutProblemError(
            INVALID,
            "an istio rollout is judged on the tracks' requests, errors and latency: labels "
            "belong to model versions, so falsePositiveRate, f1 and primaryMetric do not apply",
        )
    return route


def parse_rollout_resource(raw: Mapping[str, Any]) -> RolloutResource:
    """RolloutProblemError (code, message) when the spec cannot be used."""
    try:
        routing = raw.get("trafficRouting") or IN_APP
        analysis = {k: raw[k] for k in ("strategy", "steps", "analysis") if k in raw}
        spec = parse_rollout_spec(analysis)
        paused = bool(raw.get("paused", False))
        if routing == ISTIO:
            mesh = _mesh_route(raw, spec)
            return RolloutResource(None, None, False, None, spec, routing, paused, mesh)
        if routing != IN_APP:
            raise RolloutProblemError(INVALID, f"trafficRouting must be {IN_APP} or {ISTIO}")
        if raw.get("istio") is not None:
            raise RolloutProblemError(INVALID, "istio is for trafficRouting: istio only")
        model = (raw.get("modelRef") or {}).get("name")
        if not model:
            raise RolloutProblemError(INVALID, "modelRef.name is required")
        series_id = raw.get("seriesId")
        fleet = bool(raw.get("fleet", False))
        if series_id is not None and fleet:
            raise RolloutProblemError(INVALID, "set seriesId or fleet: true, not both")
        return RolloutResource(
            model=str(model),
            series_id=validate_series_id(series_id) if series_id is not None else None,
            fleet=fleet,
            candidate=_candidate(raw.get("candidate")),
            spec=spec,
            routing=routing,
            paused=paused,
        )
    except SigmawatchError as exc:
        raise RolloutProblemError(exc.code.value, exc.message) from None


def spec_hash(raw: Mapping[str, Any]) -> str:
    """What started a rollout: every spec field but `paused`, the one that may change."""
    kept = {k: v for k, v in raw.items() if k != "paused"}
    return hashlib.sha256(orjson.dumps(kept, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def target(resource: RolloutResource, model_spec: Mapping[str, Any]) -> Target:
    """The series of the model this rollout covers; RolloutProblemError when it covers none."""
    try:
        model = parse_spec(model_spec)
    except InvalidSpecError as exc:
        raise RolloutProblemError(
            "ModelInvalid", f"AnomalyModel {resource.model} has an invalid spec: {exc}"
        ) from None
    if resource.fleet:
        if model.single:
            raise RolloutProblemError(
                INVALID,
                f"fleet: true needs a model of many series; {resource.model} has one: drop fleet",
            )
        if model.series_ids:
            return Target(model.series_ids, None, fleet=True)
        return Target(None, model.prefix, fleet=True)
    series_id = resource.series_id or model.series_id
    if series_id is None:
        raise RolloutProblemError(
            "SeriesRequired",
            f"AnomalyModel {resource.model} covers many series: set seriesId, or fleet: true",
        )
    covered = (
        series_id in model.explicit_series
        if model.explicit_series
        else series_id.startswith(model.prefix or "")
    )
    if not covered:
        raise RolloutProblemError(
            "SeriesNotInModel", f"AnomalyModel {resource.model} does not cover {series_id}"
        )
    return Target((series_id,), None, fleet=False)
