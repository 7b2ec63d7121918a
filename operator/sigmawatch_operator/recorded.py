"""What the last reconcile wrote to an AnomalyModel's status, read back as typed values.

The reconcile is stateless between calls: everything it remembers is in
status. This is the one place that reads it; `report.py` is the one place
that writes it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True, slots=True)
class LastJob:
    name: str
    phase: str  # Running | Succeeded | Failed
    reason: str | None = None
    message: str | None = None
    started_at: str | None = None
    finished_at: str | None = None

    @classmethod
    def from_status(cls, raw: dict[str, Any]) -> LastJob:
        return cls(
            name=str(raw.get("name", "")),
            phase=str(raw.get("phase", "")),
            reason=raw.get("reason"),
            message=raw.get("message"),
            started_at=raw.get("startedAt"),
            finished_at=raw.get("finishedAt"),
        )

    def to_status(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "phase": self.phase, "reason": self.reason}
        if self.finished_at is not None or self.message is not None:
            out["message"] = self.message
        out["startedAt"] = self.started_at
        if self.finished_at is not None:
            out["finishedAt"] = self.finished_at
        return out


@dataclass(frozen=True, slots=True)
class Recorded:
    trained_key: str | None = None
    last_trained_at: str | None = None
    last_job: LastJob | None = None
    series_covered: int | None = None
    series_trained: int | None = None
    series_failed: int | None = None
    last_error: dict[str, Any] | None = None
    applied_retention: int | None = None
    observed_generation: int | None = None
    conditions: tuple[dict[str, Any], ...] = ()

    @classmethod
    def from_status(cls, status: dict[str, Any]) -> Recorded:
        last_job = status.get("lastJob")
        return cls(
            trained_key=status.get("trainedKey"),
            last_trained_at=status.get("lastTrainedAt"),
            last_job=LastJob.from_status(last_job) if isinstance(last_job, dict) else None,
            series_covered=status.get("seriesCovered"),
            series_trained=status.get("seriesTrained"),
            series_failed=status.get("seriesFailed"),
            last_error=status.get("lastError"),
            applied_retention=status.get("appliedRetention"),
            observed_generation=status.get("observedGeneration"),
            conditions=tuple(status.get("conditions") or ()),
        )

    def condition(self, kind: str) -> dict[str, Any]:
        return next((c for c in self.conditions if c.get("type") == kind), {})

    def is_true(self, kind: str) -> bool:
        return self.condition(kind).get("status") == "True"

    def with_run(self, key: str, finished_at: str) -> Recorded:
        """As it will read once a finished run of `key` is recorded."""
        return replace(self, trained_key=key, last_trained_at=finished_at)
