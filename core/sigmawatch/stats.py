"""Training statistics stored with every version (REG-3) and the data hash.

The statistics double as the z-score fallback (PRED-6: μ and σ) and as the
summary a user reads in `GET .../versions/{version}`.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from sigmawatch.arrays import FloatArray, IntArray

QUANTILES = (1, 5, 25, 50, 75, 95, 99)
STAT_KEYS = ("n_points", "mean", "std", "min", "max", *(f"p{q}" for q in QUANTILES))


def training_stats(values: FloatArray) -> dict[str, Any]:
    # One np.percentile call sorts once for all seven quantiles.
    quantiles = np.percentile(values, QUANTILES)
    stats: dict[str, Any] = {
        "n_points": int(values.size),
        "mean": float(values.mean()),
        "std": float(values.std()),
        "min": float(values.min()),
        "max": float(values.max()),
    }
    stats.update({f"p{q}": float(v) for q, v in zip(QUANTILES, quantiles, strict=True)})
    return stats


def data_hash(timestamps: IntArray, values: FloatArray) -> str:
    """sha256 over the little-endian int64 timestamps then float64 values."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(timestamps, dtype="<i8").data)
    digest.update(np.ascontiguousarray(values, dtype="<f8").data)
    return digest.hexdigest()


def stats_from_json(raw: dict[str, Any]) -> dict[str, Any]:
    """Stored statistics in their usual order, numbers as floats again.

    jsonb keeps neither key order nor the float-ness of integral numbers.
    """
    known = {k: int(raw[k]) if k == "n_points" else float(raw[k]) for k in STAT_KEYS if k in raw}
    return known | {k: v for k, v in raw.items() if k not in known}
