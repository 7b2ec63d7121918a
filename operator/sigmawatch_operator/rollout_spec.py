"""A ModelRollout's spec as typed values, and the series it covers.

The API server's schema rejects malformed resources; this adds what a schema
cannot check, with the same core parsing the REST API uses
(`sigmawatch.rollouts.spec.parse_rollout_spec`, `sigmawatch.detectors.DetectorSpec`).
Every failure is a `Problem`: a stable code and a message for status.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from sigmawatch.detectors import DetectorSpec
from sigmawatch.errors import SigmawatchError
from sigmawatch.rollouts.spec import RolloutSpec, parse_rollout_spec
from sigmawatch.validation import format_version, parse_version, validate_series_id
from sigmawatch_operator.model_spec import InvalidSpecError, parse_spec

type Problem = tuple[str, str]  # (code, message)

IN_APP = "inApp"
ISTIO = "istio"
ROUTING_NOT_SUPPORTED = "TrafficRoutingNotSupported"


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
class RolloutResource:
    model: str
    series_id: str | None
    fleet: bool
    candidate: Candidate
    spec: RolloutSpec
    routing: str
    paused: bool


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
        raise RolloutProblemError("InvalidSpec", "candidate must be an object")
    named = [key for key in ("version", "trainingRun", "detector") if raw.get(key) is not None]
    if len(named) != 1:
        raise RolloutProblemError(
            "InvalidSpec", "set exactly one of candidate.version, trainingRun, detector"
        )
    if named[0] == "version":
        return Candidate(version=parse_version(raw["version"]))
    if named[0] == "trainingRun":
        return Candidate(run_id=str(raw["trainingRun"]))
    return Candidate(detector=DetectorSpec.parse(raw["detector"]))


def parse_rollout_resource(raw: Mapping[str, Any]) -> RolloutResource:
    """RolloutProblemError (code, message) when the spec cannot be used."""
    try:
        model = (raw.get("modelRef") or {}).get("name")
        if not model:
            raise RolloutProblemError("InvalidSpec", "modelRef.name is required")
        series_id = raw.get("seriesId")
        fleet = bool(raw.get("fleet", False))
        if series_id is not None and fleet:
            raise RolloutProblemError("InvalidSpec", "set seriesId or fleet: true, not both")
        routing = raw.get("trafficRouting") or IN_APP
        if routing != IN_APP:
            raise RolloutProblemError(
                ROUTING_NOT_SUPPORTED,
                f"trafficRouting {routing!r} is not implemented yet (Istio mode is planned); "
                f"use {IN_APP!r}: the inference pods route each series",
            )
        analysis = {k: raw[k] for k in ("strategy", "steps", "analysis") if k in raw}
        return RolloutResource(
            model=str(model),
            series_id=validate_series_id(series_id) if series_id is not None else None,
            fleet=fleet,
            candidate=_candidate(raw.get("candidate")),
            spec=parse_rollout_spec(analysis),
            routing=routing,
            paused=bool(raw.get("paused", False)),
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
                "InvalidSpec",
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
