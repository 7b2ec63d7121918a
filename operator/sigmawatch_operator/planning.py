"""Pure decisions of the AnomalyModel reconcile: no I/O, tested on their own.

The reconcile is level-based: from the spec, the previous status and the
model's Jobs it decides what should happen now. Running it twice on the
same inputs decides the same thing, so create, resume, update and the
drift timer all call it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sigmawatch_operator.jobs import KEY_CHARS, JobState
from sigmawatch_operator.model_spec import ModelSpec


@dataclass(frozen=True, slots=True)
class Plan:
    active: JobState | None  # a training Job still running: follow it
    to_record: JobState | None  # a finished Job whose outcome is not in status yet


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def training_due(spec: ModelSpec, status: dict[str, Any], now: datetime) -> str | None:
    """Why a new training run is needed now, or None."""
    key = spec.training_key()[:KEY_CHARS]
    if status.get("trainedKey") != key:
        return "SpecChanged" if status.get("trainedKey") else "Initial"
    last = parse_time(status.get("lastTrainedAt"))
    if (
        spec.retrain_interval_s
        and last
        and now >= last + timedelta(seconds=spec.retrain_interval_s)
    ):
        return "Scheduled"
    return None


def next_training_at(spec: ModelSpec, status: dict[str, Any]) -> str | None:
    last = parse_time(status.get("lastTrainedAt"))
    if not spec.retrain_interval_s or last is None:
        return None
    return format_time(last + timedelta(seconds=spec.retrain_interval_s))


def pick_jobs(status: dict[str, Any], jobs: list[JobState]) -> Plan:
    """The Job to follow and the finished Job to record; `jobs` oldest first."""
    active = next((j for j in reversed(jobs) if not j.finished), None)
    last = status.get("lastJob") or {}
    names = [j.name for j in jobs]
    # Jobs older than the one status already speaks of were recorded before it.
    start = names.index(last["name"]) if last.get("name") in names else 0
    finished = [j for j in jobs[start:] if j.finished]
    newest = finished[-1] if finished else None
    recorded = newest is not None and last.get("name") == newest.name and last.get("finishedAt")
    return Plan(active=active, to_record=None if newest is None or recorded else newest)
