"""Decide: the AnomalyModel reconcile as a pure function from what was observed to a plan.

No I/O and no clock of its own, so every scenario is a plain test
(tests/operator/test_decide.py) and every replica decides the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from sigmawatch.registry import RunSummary, Writer
from sigmawatch_operator.jobs import JobState, job_name
from sigmawatch_operator.observe import Observed
from sigmawatch_operator.planning import due_time, format_time, pick_jobs, training_due


@dataclass(frozen=True, slots=True)
class RecordRun:
    """A finished Job whose outcome goes into status now."""

    job: JobState
    summary: RunSummary
    finished_at: str


@dataclass(frozen=True, slots=True)
class StartRun:
    name: str  # deterministic: replicas that race create one Job
    key: str  # the full training key
    reason: str  # Initial | SpecChanged | Scheduled


@dataclass(frozen=True, slots=True)
class Pin:
    """Hold the series' production pointer at the pinned version (GitOps rollback)."""

    series_id: str
    version: int
    writer: Writer


@dataclass(frozen=True, slots=True)
class Release:
    """The pin left the spec: give the pointer back (it stays where it is)."""

    series_id: str
    writer: Writer


@dataclass(frozen=True, slots=True)
class Retain:
    """Apply the spec's keepVersions to the series it names."""

    series_ids: tuple[str, ...]
    keep: int


@dataclass(frozen=True, slots=True)
class Plan:
    record: RecordRun | None = None
    follow: JobState | None = None  # a Job still running
    start: StartRun | None = None
    pin: Pin | None = None
    release: Release | None = None
    retain: Retain | None = None


def decide(observed: Observed) -> Plan:
    spec = observed.spec
    if spec is None:
        return Plan()
    picked = pick_jobs(observed.recorded, list(observed.jobs))
    record = None
    recorded = observed.recorded
    if picked.to_record is not None:
        job = picked.to_record
        finished_at = job.completion_time or format_time(observed.now)
        summary = observed.summaries.get(job.name, RunSummary())
        record = RecordRun(job, summary, finished_at)
        recorded = recorded.with_run(job.key, finished_at)
    start = None
    if picked.active is None:
        reason = training_due(spec, recorded, observed.now)
        if reason is not None:
            key = spec.training_key()
            due = due_time(reason, spec, recorded, observed.model.created)
            start = StartRun(job_name(observed.model.name, key, due.timestamp()), key, reason)
    return Plan(
        record=record,
        follow=picked.active,
        start=start,
        pin=_pin(observed),
        release=_release(observed),
        # Archiving waits while a run may still register versions.
        retain=_retain(observed) if picked.active is None and start is None else None,
    )


def _writer(observed: Observed) -> Writer:
    return Writer.pin(observed.model.namespace, observed.model.name)


def _pin(observed: Observed) -> Pin | None:
    spec, series = observed.spec, observed.series
    if spec is None or spec.pinned_version is None or spec.series_id is None:
        return None
    if series is None or series.latest_version == 0:
        return None  # nothing trained yet: the first run registers versions
    writer = _writer(observed)
    if (series.production_version, series.holder) == (spec.pinned_version, writer.holder):
        return None  # already held where the spec says
    return Pin(spec.series_id, spec.pinned_version, writer)


def _release(observed: Observed) -> Release | None:
    spec, series = observed.spec, observed.series
    if spec is None or spec.pinned_version is not None or series is None:
        return None
    writer = _writer(observed)
    return Release(series.series_id, writer) if series.holder == writer.holder else None


def _retain(observed: Observed) -> Retain | None:
    """Only for series the spec names: a selector fleet's retention is applied by each
    training run, series by series (its Job passes keepVersions)."""
    spec = observed.spec
    if spec is None or not spec.explicit_series:
        return None
    if observed.recorded.applied_retention == spec.keep_versions:
        return None
    return Retain(spec.explicit_series, spec.keep_versions)
