"""The fitted shape every parametric kind shares: distance from a centre in units of a scale.

z-score (mean, std) and MAD (median, scaled MAD) differ only in how they
fit and in the names their artifacts give the two numbers, so one class
scores, bounds and serialises both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sigmawatch.arrays import FloatArray


def distance(
    values: FloatArray, centre: float | FloatArray, scale: float | FloatArray
) -> FloatArray:
    """|values − centre| / scale, elementwise: the one place these kinds score, so a
    model, the resident table's column pass and its shadow pass give the same bits."""
    scores = np.subtract(values, centre)
    np.abs(scores, out=scores)
    scores /= scale
    return scores


@dataclass(frozen=True, slots=True)
class CentreScale:
    kind: str
    params: dict[str, float]
    centre: float
    scale: float
    # How the kind's artifact names the two numbers, e.g. ("mean", "std").
    names: tuple[str, str]

    @property
    def threshold(self) -> float:
        return self.params["threshold"]

    @property
    def state(self) -> dict[str, float]:
        return {self.names[0]: self.centre, self.names[1]: self.scale}

    def score(self, values: FloatArray) -> FloatArray:
        return distance(values, self.centre, self.scale)

    def bounds(self) -> tuple[float, float]:
        half = self.threshold * self.scale
        return self.centre - half, self.centre + half
