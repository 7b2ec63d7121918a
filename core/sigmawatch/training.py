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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy.typing as npt

from sigmawatch import tracing
from sigmawatch.artifacts import ArtifactStore
from sigmawatch.artifacts.manifest import write_model
from sigmawatch.detectors import DetectorSpec
from sigmawatch.errors import SigmawatchError
from sigmawatch.lifecycle import apply_retention, restore_version
from sigmawatch.registry import (
    ARCHIVED,
    TRAINING,
    NewVersion,
    Registry,
    VersionRecord,
    audit_entries,
)
from sigmawatch.registry.pointer import HELD_CODES, describe_holder, pointer_held
from sigmawatch.settings import TrainingSettings
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
    # Who kept production from moving when promotion was asked for (decision 0010).
    held_by: str | None = None

    def warnings(self) -> list[dict[str, Any]]:
        if self.held_by is None:
            return []
        held = pointer_held(self.record.series_id, self.held_by)
        return [
            {
                "code": held.code.value,
                "message": f"{self.record.name} was registered but production did not move: "
                f"{describe_holder(self.held_by)}",
                "holder": self.held_by,
            }
        ]

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
            "warnings": self.warnings(),
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
    settings: TrainingSettings,
    detector: Mapping[str, Any] | None = None,
    promote: bool = True,
    source: str = "api",
    keep_versions: int | None = None,
    admit: Callable[[], None] | None = None,
) -> TrainResult:
    """Train one series; `keep_versions` is its AnomalyModel's retention, recorded for it.

    `admit` is called once the data is known to make a new version, before any
    work on it, and may refuse by raising (the service's rate limits, SEC-2):
    the same data again answers its existing version, admitted or not. Traced as
    `training.series` (OBS-5), a child of the request, run or command that trains.
    """
    with tracing.span("training.series", {tracing.SERIES_ID: series_id}) as span:
        result = _train(
            series_id,
            timestamps,
            values,
            registry=registry,
            store=store,
            settings=settings,
            detector=detector,
            promote=promote,
            source=source,
            keep_versions=keep_versions,
            admit=admit,
        )
        if span.is_recording():
            span.set_attributes(
                {
                    tracing.VERSION: result.record.version,
                    tracing.DETECTOR_KIND: result.record.detector.kind,
                    "training.created": result.created,
                    "training.points": result.record.n_points,
                }
            )
        return result


def _train(
    series_id: str,
    timestamps: Sequence[Any] | npt.NDArray[Any],
    values: Sequence[Any] | npt.NDArray[Any],
    *,
    registry: Registry,
    store: ArtifactStore,
    settings: TrainingSettings,
    detector: Mapping[str, Any] | None,
    promote: bool,
    source: str,
    keep_versions: int | None,
    admit: Callable[[], None] | None,
) -> TrainResult:
    started = time.perf_counter()
    validate_series_id(series_id)
    spec = DetectorSpec.parse(detector)
    data = validate_training(to_timestamps(timestamps), to_values(values), settings)
    digest = data_hash(data.timestamps, data.values)

    existing = registry.find_by_data(series_id, digest, spec.spec_hash)
    if existing is not None:
        return _existing(existing, registry, store, promote=promote, started=started)
    if admit is not None:
        admit()

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
    registration = registry.register(
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
            keep_versions=keep_versions,
            state=fitted.state,
        ),
        promote=promote,
    )
    record = registration.record
    if not registration.created:  # a concurrent training of the same data won the race
        return _existing(record, registry, store, promote=promote, started=started)
    archived: list[str] = []
    try:
        archived = [
            r.name for r in apply_retention(registry, store, series_id, settings.retention_versions)
        ]
    except Exception:  # retention is retried on the next training; the version stands
        log.exception("retention failed", extra={"series_id": series_id})
    log.info(
        "trained",
        extra={"series_id": series_id, "version": record.name, "training_ms": training_ms},
    )
    return TrainResult(record, True, _ms_since(started), archived, registration.held_by)


def _existing(
    record: VersionRecord,
    registry: Registry,
    store: ArtifactStore,
    *,
    promote: bool,
    started: float,
) -> TrainResult:
    """CONS-2: the same data and spec is the same version.

    An active one is answered as it is: the pointer stays where it is, so a
    retried request never undoes a later rollback. An archived one is what
    the caller asked to train again, so it is restored (and promoted when
    asked), instead of answering a version that cannot serve.
    """
    registry.record_audit(
        [
            audit_entries.trained(
                record.series_id, record.version, created=False, promoted=False, held_by=None
            )
        ]
    )
    if record.status != ARCHIVED:
        return TrainResult(record, False, _ms_since(started), [])
    record = restore_version(registry, store, record.series_id, record.version)
    held_by = None
    if promote:
        try:
            record = registry.set_production(record.series_id, record.version, by=TRAINING).record
        except SigmawatchError as exc:
            if exc.code not in HELD_CODES:
                raise
            held_by = str(exc.details["holder"])
    log.info(
        "restored by retraining", extra={"series_id": record.series_id, "version": record.name}
    )
    return TrainResult(record, False, _ms_since(started), [], held_by)


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
