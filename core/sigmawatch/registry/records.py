"""Rows of the registry as plain, immutable records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sigmawatch.detectors import DetectorSpec
from sigmawatch.validation import format_version

ACTIVE = "active"
ARCHIVED = "archived"


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
class SeriesRecord:
    series_id: str
    latest_version: int
    production_version: int | None
    usage_count: int
