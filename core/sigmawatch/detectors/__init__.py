"""Pluggable detector kinds (MOD-8) and the spec that names one."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from sigmawatch.arrays import FloatArray
from sigmawatch.detectors import mad, zscore
from sigmawatch.detectors.base import DetectorKind, FittedDetector, normalize_params
from sigmawatch.detectors.centre_scale import CentreScale
from sigmawatch.detectors.mad import RobustMad
from sigmawatch.detectors.zscore import ZScore
from sigmawatch.errors import ErrorCode, SigmawatchError

KINDS: dict[str, DetectorKind] = {kind.name: kind for kind in (ZScore(), RobustMad())}
DEFAULT_KIND = "zscore"
# The kinds whose fitted form is a CentreScale, with the state names of its two
# numbers: a version of one scores from its registry row alone (issue 10).
CENTRE_SCALE: dict[str, tuple[str, str]] = {ZScore.name: zscore.STATE, RobustMad.name: mad.STATE}

__all__ = [
    "CENTRE_SCALE",
    "DEFAULT_KIND",
    "KINDS",
    "CentreScale",
    "DetectorKind",
    "DetectorSpec",
    "FittedDetector",
    "get_kind",
    "zscore_fallback",
]


def get_kind(name: str) -> DetectorKind:
    try:
        return KINDS[name]
    except KeyError:
        raise SigmawatchError(
            ErrorCode.INVALID_DETECTOR,
            f"unknown detector kind {name!r}",
            kind=name,
            allowed=sorted(KINDS),
        ) from None


@dataclass(frozen=True, slots=True)
class DetectorSpec:
    """A detector kind with its full parameter set (defaults filled in)."""

    kind: str
    params: dict[str, float]

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | None) -> DetectorSpec:
        raw = raw or {}
        if not isinstance(raw, Mapping):
            raise SigmawatchError(
                ErrorCode.INVALID_DETECTOR, "detector must be an object {kind, params}"
            )
        name = raw.get("kind", DEFAULT_KIND)
        if not isinstance(name, str):
            raise SigmawatchError(ErrorCode.INVALID_DETECTOR, "detector kind must be a string")
        kind = get_kind(name)
        params = raw.get("params") or {}
        if not isinstance(params, Mapping):
            raise SigmawatchError(ErrorCode.INVALID_DETECTOR, "detector params must be an object")
        return cls(kind.name, normalize_params(kind.name, kind.defaults, params))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "params": dict(self.params)}

    @property
    def spec_hash(self) -> str:
        """Identity of the spec: equal kinds and parameters hash equal (CONS-2)."""
        canonical = orjson.dumps(self.to_dict(), option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(canonical).hexdigest()

    def fit(self, values: FloatArray) -> FittedDetector:
        return get_kind(self.kind).fit(values, self.params)

    def restore(self, state: Mapping[str, float]) -> FittedDetector:
        return get_kind(self.kind).restore(self.params, state)


def zscore_fallback(mean: float, std: float, threshold: float = 3.0) -> CentreScale:
    """The baseline any version can answer with from its stored μ and σ (PRED-6)."""
    return ZScore().restore({"threshold": threshold}, {"mean": mean, "std": std})
