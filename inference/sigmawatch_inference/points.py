"""What goes into the predictor and what comes out of it, and where it is sent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

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
class Prediction:
    series_id: str
    version: int
    kind: str
    params: dict[str, float]
    threshold: float
    scores: FloatArray
    anomalies: BoolArray
    fallback: bool
    warnings: list[dict[str, Any]]

    @property
    def n_anomalies(self) -> int:
        return int(np.count_nonzero(self.anomalies))


@dataclass(frozen=True, slots=True)
class Target:
    version: int | None  # the version that answers (None: production)
    fallback: int | None = None  # stable, should a canary's candidate not load
    shadow: int | None = None  # a candidate scored beside the answer


PRODUCTION = Target(None)
