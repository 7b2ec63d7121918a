"""Baseline detector: |x − μ| / σ above k (default 3) is anomalous (MOD-8).

It is also the fallback every version can answer with (PRED-6), because
μ and σ are stored with every version's training statistics.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from sigmawatch.arrays import FloatArray
from sigmawatch.detectors.centre_scale import CentreScale

STATE = ("mean", "std")


class ZScore:
    name: ClassVar[str] = "zscore"
    defaults: ClassVar[dict[str, float]] = {"threshold": 3.0}

    def fit(self, values: FloatArray, params: dict[str, float]) -> CentreScale:
        return CentreScale(self.name, params, float(values.mean()), float(values.std()), STATE)

    def restore(self, params: dict[str, float], state: Mapping[str, float]) -> CentreScale:
        return CentreScale(self.name, params, float(state["mean"]), float(state["std"]), STATE)
