"""Copy fitted states from artifacts into version rows (issue 10, `sigmawatch backfill-state`).

Versions of centre/scale kinds other than z-score trained before migration
0010 have no `state` in their row, so no serving process can keep them
resident: each is read from its artifact on a cache miss instead. This
reads each such version's manifest (verified by its hash, parsed as JSON,
never executed), checks the detector restores from it, and stores its
numbers in the row only where the row still has none. Serving processes
then see the series as changed and hold the version resident.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sigmawatch.artifacts import ArtifactStore
from sigmawatch.artifacts.manifest import read_manifest
from sigmawatch.detectors import CENTRE_SCALE
from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.registry import Registry
from sigmawatch.registry.records import VersionRecord

log = logging.getLogger(__name__)

PAGE = 500
KEPT_FAILURES = 20  # examples in the report; every failure is logged


@dataclass
class BackfillReport:
    filled: int = 0  # rows given a state (with dry_run: rows that would be)
    skipped: int = 0  # rows that got a state meanwhile (a retraining, another run)
    failed: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "filled": self.filled,
            "skipped": self.skipped,
            "failed": self.failed,
            "failures": self.failures,
        }


def state_from_artifact(record: VersionRecord, store: ArtifactStore) -> dict[str, float]:
    """The fitted numbers of a version's verified manifest (ARTIFACT_CORRUPT when unusable)."""
    series_id, version = record.series_id, record.version
    manifest = read_manifest(store, record.artifact_prefix, record.manifest_sha256)
    raw = manifest.get("state")
    names = CENTRE_SCALE.get(record.detector.kind, ())
    if not isinstance(raw, dict) or not all(isinstance(raw.get(n), int | float) for n in names):
        raise SigmawatchError(
            ErrorCode.ARTIFACT_CORRUPT,
            f"the manifest of {series_id!r} v{version} has no usable state",
            series_id=series_id,
        )
    state = {name: float(raw[name]) for name in names}
    if not all(math.isfinite(value) for value in state.values()):
        raise SigmawatchError(
            ErrorCode.ARTIFACT_CORRUPT,
            f"the state of {series_id!r} v{version} is not finite",
            series_id=series_id,
        )
    record.detector.restore(raw)  # what serving would do with it must work
    return state


def backfill_states(
    registry: Registry,
    store: ArtifactStore,
    *,
    kinds: Sequence[str] | None = None,
    dry_run: bool = False,
    page: int = PAGE,
) -> BackfillReport:
    """Fill every active version of `kinds` (default: every centre/scale kind) that has no
    state; a version whose artifact is missing or damaged is reported and left as it is."""
    report = BackfillReport()
    after: tuple[str, int] | None = None
    while found := registry.versions_without_state(list(kinds or CENTRE_SCALE), after, page):
        for record in found:
            after = (record.series_id, record.version)
            try:
                state = state_from_artifact(record, store)
            except SigmawatchError as exc:
                if exc.retryable:
                    raise  # storage down: stop, a rerun carries on where rows still lack it
                report.failed += 1
                failure = {"series_id": record.series_id, "version": record.name}
                failure |= {"code": exc.code.value, "message": exc.message}
                if len(report.failures) < KEPT_FAILURES:
                    report.failures.append(failure)
                log.warning(
                    "state not back-filled",
                    extra={
                        "series_id": record.series_id,
                        "version": record.name,
                        "code": exc.code.value,
                        "error": exc.message,
                    },
                )
                continue
            if dry_run or registry.fill_state(record.series_id, record.version, state):
                report.filled += 1
            else:
                report.skipped += 1
    log.info("state back-fill finished", extra=report.to_dict() | {"dry_run": dry_run})
    return report
