"""Pure rules of the AnomalyModel reconcile about time and Jobs: no I/O, tested on their own.

The reconcile is level-based: from the spec, the recorded status and the
model's Jobs it decides what should happen now. Running it twice on the
same inputs decides the same thing, on any replica, so create, resume,
update and the drift timer all call it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sigmawatch_operator.jobs import KEY_CHARS, JobState
from sigmawatch_operator.model_spec import ModelSpec
from sigmawatch_operator.recorded import Recorded

INITIAL, SPEC_CHANGED, SCHEDULED = "Initial", "SpecChanged", "Scheduled"


@dataclass(frozen=True, slots=True)
class Picked:
    active: JobState | None  # a training Job still running: follow it
    to_record: JobState | None  # a finished Job whose outcome is not in status yet


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def training_due(spec: ModelSpec, recorded: Recorded, now: datetime) -> str | None:
    """Why a new training run is needed now, or None."""
    key = spec.training_key()[:KEY_CHARS]
    if recorded.trained_key != key:
        return SPEC_CHANGED if recorded.trained_key else INITIAL
    last = parse_time(recorded.last_trained_at)
    if (
        spec.retrain_interval_s
        and last
        and now >= last + timedelta(seconds=spec.retrain_interval_s)
    ):
        return SCHEDULED
    return None


def due_time(
    reason: str, spec: ModelSpec, recorded: Recorded, created: datetime | None
) -> datetime:
    """When the run became due: the same on every replica, so it can name the Job.

    Scheduled runs are due an interval after the last one; a new or changed
    spec is due from the last run (or the model's creation), which with the
    training key in the name makes every run's name its own.
    """
    last = parse_time(recorded.last_trained_at)
    if reason == SCHEDULED and last is not None and spec.retrain_interval_s:
        return last + timedelta(seconds=spec.retrain_interval_s)
    return last or created or datetime.fromtimestamp(0, UTC)


def next_training_at(spec: ModelSpec, recorded: Recorded) -> str | None:
    last = parse_time(recorded.last_trained_at)
    if not spec.retrain_interval_s or last is None:
        return None
    return format_time(last + timedelta(seconds=spec.retrain_interval_s))


def pick_jobs(recorded: Recorded, jobs: list[JobState]) -> Picked:
    """The Job to follow and the finished Job to record; `jobs` oldest first."""
    active = next((j for j in reversed(jobs) if not j.finished), None)
    last = recorded.last_job
    names = [j.name for j in jobs]
    # Jobs older than the one status already speaks of were recorded before it.
    start = names.index(last.name) if last is not None and last.name in names else 0
    finished = [j for j in jobs[start:] if j.finished]
    newest = finished[-1] if finished else None
    done = newest is not None and last is not None and last.name == newest.name
    recorded_already = done and last is not None and last.finished_at is not None
    return Picked(active=active, to_record=None if newest is None or recorded_already else newest)
