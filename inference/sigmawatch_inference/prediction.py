"""Scoring arrays of points with a loaded model; shared by single and batch predict."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from sigmawatch.loading import LoadedModel
from sigmawatch.settings import Settings
from sigmawatch.validation import (
    FloatArray,
    IntArray,
    check_timestamps,
    check_values,
    format_version,
    timestamp_warnings,
)


def score_points(
    model: LoadedModel, timestamps: IntArray, values: FloatArray, settings: Settings
) -> dict[str, Any]:
    """Validate (VAL-7) and score; arrays stay numpy until orjson writes them."""
    check_timestamps(timestamps, strictly_increasing=False)
    check_values(values, settings)
    scored = model.score(values)
    detector = model.detector if not scored.fallback and model.detector else model.fallback
    return {
        "series_id": model.series_id,
        "version": format_version(model.version),
        "anomalies": scored.anomalies,
        "scores": scored.scores,
        "n_anomalies": int(np.count_nonzero(scored.anomalies)),
        "threshold": detector.threshold,
        "detector": {"kind": model.kind, "params": detector.params},
        "fallback": scored.fallback,
        "warnings": timestamp_warnings(
            timestamps, now=time.time(), training_range=model.training_range, settings=settings
        ),
    }
