"""Robust detector: distance from the median in units of the scaled MAD.

The median absolute deviation ignores the outliers a z-score is pulled by,
so a series with past incidents in its training window still gets a tight
band. 1.4826 makes the MAD estimate σ for normal data, so thresholds read
like z-score thresholds (default 3.5, the usual modified z-score cut-off).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from sigmawatch.detectors.base import FloatArray

MAD_TO_SIGMA = 1.4826
# Mean absolute deviation → σ for normal data; used when over half the
# values are identical and the MAD is zero.
MEAN_ABS_DEV_TO_SIGMA = 1.2533


@dataclass(frozen=True, slots=True)
class FittedMad:
    params: dict[str, float]
    state: dict[str, float]
    kind: str = "mad"

    @property
    def threshold(self) -> float:
        return self.params["threshold"]

    def score(self, values: FloatArray) -> FloatArray:
        scores = np.subtract(values, self.state["median"])
        np.abs(scores, out=scores)
        scores /= self.state["scale"]
        return scores

    def bounds(self) -> tuple[float, float]:
        half = self.threshold * self.state["scale"]
        return self.state["median"] - half, self.state["median"] + half


class RobustMad:
    name: ClassVar[str] = "mad"
    defaults: ClassVar[dict[str, float]] = {"threshold": 3.5}

    def fit(self, values: FloatArray, params: dict[str, float]) -> FittedMad:
        median = float(np.median(values))
        deviations = np.abs(values - median)
        scale = float(np.median(deviations)) * MAD_TO_SIGMA
        if scale <= 0.0:
            scale = float(deviations.mean()) * MEAN_ABS_DEV_TO_SIGMA
        return FittedMad(params, {"median": median, "scale": scale})

    def restore(self, params: dict[str, float], state: Mapping[str, float]) -> FittedMad:
        return FittedMad(params, {"median": float(state["median"]), "scale": float(state["scale"])})
