"""The detector protocol every model kind implements (MOD-8).

A *kind* turns training values into a *fitted detector*: a few learned
numbers (its `state`) plus its hyper-parameters. A fitted detector scores a
numpy array in one vectorised call; a point is anomalous when its score is
above the threshold. State and params are plain floats so a version's
artifact is a JSON document, never code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Protocol

from sigmawatch.arrays import FloatArray
from sigmawatch.errors import ErrorCode, SigmawatchError

# Thresholds are in units of spread; anything beyond this is a typo, not a model.
MAX_PARAM = 1e6


class FittedDetector(Protocol):
    @property
    def kind(self) -> str: ...

    @property
    def params(self) -> dict[str, float]:
        """Hyper-parameters, e.g. the threshold."""
        ...

    @property
    def state(self) -> dict[str, float]:
        """What fitting learned, e.g. μ and σ."""
        ...

    @property
    def threshold(self) -> float: ...

    def score(self, values: FloatArray) -> FloatArray:
        """Anomaly score per value; larger is more anomalous."""
        ...

    def bounds(self) -> tuple[float, float]:
        """The value band inside which points are normal (for plots)."""
        ...


class DetectorKind(Protocol):
    name: ClassVar[str]
    defaults: ClassVar[dict[str, float]]

    def fit(self, values: FloatArray, params: dict[str, float]) -> FittedDetector: ...

    def restore(self, params: dict[str, float], state: Mapping[str, float]) -> FittedDetector: ...


def normalize_params(
    kind: str, defaults: Mapping[str, float], given: Mapping[str, Any] | None
) -> dict[str, float]:
    """Defaults filled in, unknown names and non-positive numbers rejected."""
    params = dict(defaults)
    for name, value in (given or {}).items():
        if name not in defaults:
            raise SigmawatchError(
                ErrorCode.INVALID_DETECTOR,
                f"detector {kind!r} has no parameter {name!r}",
                kind=kind,
                parameter=name,
                allowed=sorted(defaults),
            )
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not 0 < value <= MAX_PARAM
        ):
            raise SigmawatchError(
                ErrorCode.INVALID_DETECTOR,
                f"parameter {name!r} of detector {kind!r} must be a number in (0, {MAX_PARAM:g}]",
                kind=kind,
                parameter=name,
                value=value if isinstance(value, int | float | str | None) else str(value),
            )
        params[name] = float(value)
    return params
