"""What goes into the predictor and what comes out of it, and where it is sent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sigmawatch.arrays import BoolArray, FloatArray, IntArray


@dataclass(frozen=True, slots=True)
class PointsRequest:
    """Points of one series to score, parsed and typed (a batch item, or a single point)."""

    series_id: str
    version: int | None  # None: production
    timestamps: IntArray
    values: FloatArray
    route_key: str | None = None  # X-Sigmawatch-Route-Key: a sticky client's canary key


@dataclass(frozen=True, slots=True)
class ColumnsRequest:
    """The batch's columns form: row i is one point of series_ids[i], for production."""

    series_ids: list[str]  # as sent; each is checked only if the resident table lacks it
    timestamps: IntArray
    values: FloatArray
    route_key: str | None = None


# Not frozen: built once per answer on the hot path, where a frozen init costs.
@dataclass(slots=True)
class Prediction:
    series_id: str
    version: int
    kind: str
    params: dict[str, float]
    threshold: float
    scores: FloatArray
    anomalies: BoolArray
    n_anomalies: int
    fallback: bool
    warnings: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Target:
    version: int | None  # the version that answers (None: production)
    fallback: int | None = None  # stable, should a canary's candidate not load
    shadow: int | None = None  # a candidate scored beside the answer


PRODUCTION = Target(None)
