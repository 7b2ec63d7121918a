"""Turning a registered version into something that scores (PRED-2, PRED-6).

A version whose artifact cannot be read or whose detector cannot be rebuilt
still answers: with the z-score built from the μ and σ in its registry
statistics, marked `fallback`. The same happens per call when the detector
raises while scoring. Nothing here touches any other series.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import numpy as np

from sigmawatch import tracing
from sigmawatch.arrays import BoolArray, FloatArray
from sigmawatch.artifacts import ArtifactStore
from sigmawatch.artifacts.manifest import read_manifest
from sigmawatch.detectors import FittedDetector, zscore_fallback
from sigmawatch.drift import edges_of, expected_shares
from sigmawatch.registry import VersionRecord
from sigmawatch.sizes import deep_size

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Scored:
    scores: FloatArray
    anomalies: BoolArray
    fallback: bool


@dataclass(frozen=True, slots=True)
class LoadedModel:
    series_id: str
    version: int
    kind: str
    detector: FittedDetector | None  # None: the artifact failed to load
    fallback: FittedDetector
    training_range: tuple[int, int]
    load_error: str | None = None
    # Bytes this model holds, estimated once when it is loaded; the cache bounds by it.
    nbytes: int = 0
    # The training-quantile bins its scored values are counted in (sigmawatch.drift).
    drift_edges: FloatArray | None = None
    drift_shares: tuple[float, ...] | None = None

    def score(self, values: FloatArray) -> Scored:
        """The inference, a `model.score` span inside a traced request (OBS-5)."""
        with tracing.child("model.score") as span:
            scored = self._score(values)
            if span.is_recording():
                span.set_attributes(
                    {
                        tracing.SERIES_ID: self.series_id,
                        tracing.VERSION: self.version,
                        tracing.DETECTOR_KIND: self.kind,
                        "model.points": int(values.size),
                        "model.anomalies": int(np.count_nonzero(scored.anomalies)),
                        "model.fallback": scored.fallback,
                    }
                )
            return scored

    def _score(self, values: FloatArray) -> Scored:
        if self.detector is not None:
            try:
                with np.errstate(all="ignore"):
                    scores = self.detector.score(values)
                # Inputs are finite, so a non-finite score means a broken model.
                if np.isfinite(scores).all():
                    return Scored(scores, scores > self.detector.threshold, False)
                log.error(
                    "detector produced non-finite scores, answering with z-score fallback",
                    extra={"series_id": self.series_id, "version": self.version},
                )
            except Exception:
                log.exception(
                    "detector failed, answering with z-score fallback",
                    extra={"series_id": self.series_id, "version": self.version},
                )
        scores = self.fallback.score(values)
        return Scored(scores, scores > self.fallback.threshold, True)


def _fallback_for(record: VersionRecord) -> FittedDetector:
    threshold = float(record.detector.params.get("threshold", 3.0))
    return zscore_fallback(float(record.stats["mean"]), float(record.stats["std"]), threshold)


def load_model(record: VersionRecord, store: ArtifactStore) -> LoadedModel:
    """Load a version's detector from its artifact, falling back to μ/σ if that fails."""
    detector: FittedDetector | None = None
    error = None
    try:
        manifest = read_manifest(store, record.artifact_prefix, record.manifest_sha256)
        detector = record.detector.restore(manifest["state"])
    except Exception as exc:
        error = repr(exc)
        log.warning(
            "model failed to load, serving z-score fallback",
            extra={"series_id": record.series_id, "version": record.name, "error": error},
        )
    edges = edges_of(record.stats)
    model = LoadedModel(
        series_id=record.series_id,
        version=record.version,
        kind=record.detector.kind,
        detector=detector,
        fallback=_fallback_for(record),
        training_range=(record.training_start, record.training_end),
        load_error=error,
        drift_edges=edges,
        drift_shares=expected_shares(edges) if edges is not None else None,
    )
    return dataclasses.replace(model, nbytes=deep_size(model))
