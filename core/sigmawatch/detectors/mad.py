"""Robust detector: distance from the median in units of the scaled MAD.

The median absolute deviation ignores the outliers a z-score is pulled by,
so a series with past incidents in its training window still gets a tight
band. 1.4826 makes the MAD estimate σ for normal data, so thresholds read
like z-score thresholds (default 3.5, the usual modified z-score cut-off).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np

from sigmawatch.arrays import FloatArray
from sigmawatch.detectors.centre_scale import CentreScale

MAD_TO_SIGMA = 1.4826
# Mean absolute deviation → σ for normal data; used when over half the
# values are identical and the MAD is zero.
MEAN_ABS_DEV_TO_SIGMA = 1.2533
STATE = ("median", "scale")


class RobustMad:
    name: ClassVar[str] = "mad"
    defaults: ClassVar[dict[str, float]] = {"threshold": 3.5}

    def fit(self, values: FloatArray, params: dict[str, float]) -> CentreScale:
        median = float(np.median(values))
        deviations = np.abs(values - median)
        scale = float(np.median(deviations)) * MAD_TO_SIGMA
        if scale <= 0.0:
            scale = float(deviations.mean()) * MEAN_ABS_DEV_TO_SIGMA
        return CentreScale(self.name, params, median, scale, STATE)

    def restore(self, params: dict[str, float], state: Mapping[str, float]) -> CentreScale:
        return CentreScale(self.name, params, float(state["median"]), float(state["scale"]), STATE)
