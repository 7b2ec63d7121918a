"""The resident table's `model.score` spans, inside a traced request only (OBS-5).

The per-item path's scoring span is `LoadedModel.score`'s; these are the
same span for answers the table gives, marked `model.resident`, so a trace
shows the inference whichever path answered.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from opentelemetry.trace import Span

from sigmawatch import tracing
from sigmawatch.arrays import FloatArray
from sigmawatch_inference.resident_columns import KINDS, Scored


def record_pass(span: Span, values: FloatArray, scored: Scored) -> None:
    """One pass's figures on its span: items, points, anomalies; one item's version."""
    if not span.is_recording():
        return
    attributes: dict[str, Any] = {
        "model.resident": True,
        "model.items": int(scored.version.size),
        "model.points": int(values.size),
        "model.anomalies": int(np.count_nonzero(scored.anomalies)),
    }
    if scored.version.size == 1:
        attributes[tracing.VERSION] = int(scored.version[0])
        attributes[tracing.DETECTOR_KIND] = KINDS[scored.kind[0]]
    span.set_attributes(attributes)


def record_one(series_id: str, version: int, kind: str, anomaly: bool) -> None:
    """A single point's span, made once it is answered: the answer takes ~1 µs, less
    than starting a span. The caller checks `tracing.recording()` first, so an
    unsampled request pays that one check only."""
    with tracing.child("model.score") as span:
        if span.is_recording():
            span.set_attributes(
                {
                    tracing.SERIES_ID: series_id,
                    tracing.VERSION: version,
                    tracing.DETECTOR_KIND: kind,
                    "model.resident": True,
                    "model.items": 1,
                    "model.points": 1,
                    "model.anomalies": int(anomaly),
                }
            )
