"""Training is one function (MOD-1, MOD-4): validate → fit → store → register.

The REST endpoint, the `sigmawatch train` CLI and the operator's training
Job all call `train_series`. The artifact is written before the version is
registered, under a key derived from the data and detector (not from the
version number), so a failed write leaves no version and a registered
version always has its artifact; a retry rewrites the same bytes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy.typing as npt

from sigmawatch.artifacts import ArtifactStore
from sigmawatch.artifacts.manifest import write_model
from sigmawatch.detectors import DetectorSpec
from sigmawatch.lifecycle import apply_retention
from sigmawatch.registry import NewVersion, Registry, VersionRecord
from sigmawatch.settings import Settings
from sigmawatch.stats import data_hash, training_stats
from sigmawatch.validation import (
    to_timestamps,
    to_values,
    validate_series_id,
    validate_training,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TrainResult:
    record: VersionRecord
    created: bool
    training_ms: float
    archived: list[str]

    def to_dict(self) -> dict[str, Any]:
        """The train endpoint's and CLI's answer."""
        return {
            "series_id": self.record.series_id,
            "version": self.record.name,
            "created": self.created,
            "status": self.record.status,
            "production": self.record.is_production,
            "n_points": self.record.n_points,
            "data_hash": self.record.data_hash,
            "detector": self.record.detector.to_dict(),
            "stats": self.record.stats,
            "training_ms": round(self.training_ms, 3),
            "archived_versions": self.archived,
        }


def artifact_prefix(series_id: str, digest: str, spec: DetectorSpec) -> str:
    return f"models/{series_id}/{digest[:20]}-{spec.spec_hash[:12]}/"


def train_series(
    series_id: str,
    timestamps: Sequence[Any] | npt.NDArray[Any],
    values: Sequence[Any] | npt.NDArray[Any],
    *,
    registry: Registry,
    store: ArtifactStore,
    settings: Settings,
    detector: Mapping[str, Any] | None = None,
    promote: bool = True,
    source: str = "api",
) -> TrainResult:
    started = time.perf_counter()
    validate_series_id(series_id)
    spec = DetectorSpec.parse(detector)
    data = validate_training(to_timestamps(timestamps), to_values(values), settings)
    digest = data_hash(data.timestamps, data.values)

    existing = registry.find_by_data(series_id, digest, spec.spec_hash)
    if existing is not None:
        # CONS-2: same data and spec is the same version; the pointer stays
        # where it is, so a retried request never undoes a later rollback.
        return TrainResult(existing, False, _ms_since(started), [])

    fitted = spec.fit(data.values)
    stats = training_stats(data.values)
    keep = settings.plot_points
    stored = write_model(
        store,
        artifact_prefix(series_id, digest, spec),
        {
            "series_id": series_id,
            "detector": spec.to_dict(),
            "state": fitted.state,
            "stats": stats,
            "data_hash": digest,
            "training_range": [int(data.timestamps[0]), int(data.timestamps[-1])],
        },
        {
            "timestamps": data.timestamps[-keep:] if keep else data.timestamps[:0],
            "values": data.values[-keep:] if keep else data.values[:0],
        },
    )
    training_ms = _ms_since(started)
    record, created = registry.register(
        NewVersion(
            series_id=series_id,
            detector=spec,
            data_hash=digest,
            n_points=int(data.values.size),
            stats=stats,
            training_start=int(data.timestamps[0]),
            training_end=int(data.timestamps[-1]),
            artifact_prefix=stored.prefix,
            manifest_sha256=stored.manifest_sha256,
            training_ms=training_ms,
            source=source,
        ),
        promote=promote,
    )
    archived: list[str] = []
    if created:
        try:
            archived = [
                r.name
                for r in apply_retention(registry, store, series_id, settings.retention_versions)
            ]
        except Exception:  # retention is retried on the next training; the version stands
            log.exception("retention failed", extra={"series_id": series_id})
        log.info(
            "trained",
            extra={"series_id": series_id, "version": record.name, "training_ms": training_ms},
        )
    return TrainResult(record, created, _ms_since(started), archived)


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
