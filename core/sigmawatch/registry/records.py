"""What the registry stores and answers, as plain immutable records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from sigmawatch.detectors import DetectorSpec
from sigmawatch.validation import format_version

ACTIVE = "active"
ARCHIVED = "archived"

# Outcomes of one series in a training run.
CREATED = "created"
EXISTING = "existing"
FAILED = "failed"


@dataclass(frozen=True, slots=True)
class NewVersion:
    """What training hands to the registry: everything but the version number."""

    series_id: str
    detector: DetectorSpec
    data_hash: str
    n_points: int
    stats: dict[str, Any]
    training_start: int
    training_end: int
    artifact_prefix: str
    manifest_sha256: str
    training_ms: float
    source: str = "api"
    # An AnomalyModel's keepVersions, recorded for the series; None keeps what it has.
    keep_versions: int | None = None
    # The fitted detector's numbers (e.g. mean and std), also in the artifact: a
    # parametric model can be served from the registry row alone (resident.py).
    state: dict[str, float] | None = None


@dataclass(frozen=True, slots=True)
class VersionRecord:
    series_id: str
    version: int
    status: str
    detector: DetectorSpec
    spec_hash: str
    data_hash: str
    n_points: int
    stats: dict[str, Any]
    training_start: int
    training_end: int
    artifact_prefix: str
    manifest_sha256: str
    training_ms: float
    source: str
    created_at: datetime
    archived_at: datetime | None
    is_production: bool
    state: dict[str, float] | None = None  # see NewVersion.state; None before 0010

    @property
    def name(self) -> str:
        return format_version(self.version)

    def to_dict(self) -> dict[str, Any]:
        """The public view (API, CLI); storage locations stay internal."""
        return {
            "series_id": self.series_id,
            "version": self.name,
            "status": self.status,
            "production": self.is_production,
            "detector": self.detector.to_dict(),
            "n_points": self.n_points,
            "data_hash": self.data_hash,
            "stats": self.stats,
            "training_range": {"start": self.training_start, "end": self.training_end},
            "training_ms": self.training_ms,
            "source": self.source,
            "created_at": self.created_at.isoformat(),
            "archived_at": self.archived_at.isoformat() if self.archived_at else None,
        }


@dataclass(frozen=True, slots=True)
class CentreScaleColumns:
    """Production versions scored by |x − centre| / scale > threshold, in columns: row i
    of each is one series. Arrays, not a record a row: a serving process reads one row
    per series before it is ready (resident.py)."""

    series_ids: list[str]
    versions: npt.NDArray[np.int32]
    kinds: npt.NDArray[np.int32]  # position in the kinds asked for
    thresholds: npt.NDArray[np.float64]
    centres: npt.NDArray[np.float64]
    scales: npt.NDArray[np.float64]
    training_starts: npt.NDArray[np.int64]
    training_ends: npt.NDArray[np.int64]
    # n × 7 training quantiles (stats.QUANTILES), NaN where a version stored none:
    # the edges of its drift bins (sigmawatch.drift).
    quantiles: npt.NDArray[np.float64] | None = None


@dataclass(frozen=True, slots=True)
class SeriesRecord:
    series_id: str
    latest_version: int
    production_version: int | None
    usage_count: int
    # Who holds the production pointer (docs/decisions/0010), e.g. "pin:models/pump-7".
    holder: str | None = None
    keep_versions: int | None = None


@dataclass(frozen=True, slots=True)
class Registration:
    """The answer to `register`: the version, whether it is new, and who kept
    production from moving to it when promotion was asked for."""

    record: VersionRecord
    created: bool
    held_by: str | None = None


@dataclass(frozen=True, slots=True)
class PointerMove:
    """Production after a move, and where it pointed just before (same transaction)."""

    record: VersionRecord
    previous: int | None


@dataclass(frozen=True, slots=True)
class PointerState:
    """A series' production pointer as the periodic refresh compares it."""

    production_version: int | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CataloguePage:
    items: list[VersionRecord]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class RunSummary:
    """Counts of one training run; `top_error` is the most frequent failure with an example."""

    total: int = 0
    created: int = 0
    existing: int = 0
    failed: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    top_error: dict[str, Any] | None = None

    @property
    def trained(self) -> int:
        return self.created + self.existing


def summarize_run(
    counts: list[tuple[str, str | None, int]],
    example: Callable[[str], tuple[str, str] | None],
) -> RunSummary:
    """Fold (outcome, error code, n) rows into a summary; `example(code)` gives
    (series_id, message) of one series that failed with that code."""
    by_outcome: dict[str, int] = {}
    errors: dict[str, int] = {}
    for outcome, code, n in counts:
        by_outcome[outcome] = by_outcome.get(outcome, 0) + n
        if code:
            errors[code] = errors.get(code, 0) + n
    top = None
    if errors:
        code = max(sorted(errors), key=lambda c: errors[c])
        found = example(code)
        if found is not None:
            top = {"code": code, "series_id": found[0], "message": found[1]}
    return RunSummary(
        total=sum(by_outcome.values()),
        created=by_outcome.get(CREATED, 0),
        existing=by_outcome.get(EXISTING, 0),
        failed=by_outcome.get(FAILED, 0),
        errors=errors,
        top_error=top,
    )
