"""A realistic demo series so a newcomer can try the API at once.

Vibration-like sensor: a daily cycle, a slower weekly drift, Gaussian
noise, and a handful of injected spikes, sampled every 5 minutes.
"""

from __future__ import annotations

import numpy as np

from sigmawatch.arrays import FloatArray, IntArray

STEP_S = 300


def demo_series(
    points: int = 20_000, *, seed: int = 7, end: int | None = None, spikes: int = 12
) -> tuple[IntArray, FloatArray]:
    rng = np.random.default_rng(seed)
    end = end if end is not None else 1_767_225_600  # 2026-01-01T00:00:00Z
    timestamps = end - STEP_S * np.arange(points - 1, -1, -1, dtype=np.int64)
    hours = (timestamps % 86_400) / 3_600.0
    days = (timestamps % (7 * 86_400)) / 86_400.0
    values = (
        50.0
        + 6.0 * np.sin(2 * np.pi * (hours - 6.0) / 24.0)
        + 2.0 * np.sin(2 * np.pi * days / 7.0)
        + rng.normal(0.0, 1.5, points)
    )
    where = rng.choice(points, size=min(spikes, points), replace=False)
    values[where] += rng.choice([-1.0, 1.0], size=where.size) * rng.uniform(15.0, 30.0, where.size)
    return timestamps, values
