"""Baseline detector: |x − μ| / σ above k (default 3) is anomalous (MOD-8).

It is also the fallback every version can answer with (PRED-6), because
μ and σ are stored with every version's training statistics.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from sigmawatch.detectors.base import FloatArray


@dataclass(frozen=True, slots=True)
class FittedZScore:
    params: dict[str, float]
    state: dict[str, float]
    kind: str = "zscore"

    @property
    def threshold(self) -> float:
        return self.params["threshold"]

    def score(self, values: FloatArray) -> FloatArray:
        scores = np.subtract(values, self.state["mean"])
        np.abs(scores, out=scores)
        scores /= self.state["std"]
        return scores

    def bounds(self) -> tuple[float, float]:
        half = self.threshold * self.state["std"]
        return self.state["mean"] - half, self.state["mean"] + half


class ZScore:
    name: ClassVar[str] = "zscore"
    defaults: ClassVar[dict[str, float]] = {"threshold": 3.0}

    def fit(self, values: FloatArray, params: dict[str, float]) -> FittedZScore:
        return FittedZScore(params, {"mean": float(values.mean()), "std": float(values.std())})

    def restore(self, params: dict[str, float], state: Mapping[str, float]) -> FittedZScore:
        return FittedZScore(params, {"mean": float(state["mean"]), "std": float(state["std"])})
