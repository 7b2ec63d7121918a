"""Report: the status and Events a reconcile leaves, from what it observed, planned and did.

Pure, like `decide`. The status is written whole from typed inputs; the
handler sends the difference to the API server as a merge patch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sigmawatch.validation import format_version
from sigmawatch_operator import conditions as cond
from sigmawatch_operator.act import Acted, Problem
from sigmawatch_operator.decide import Plan, RecordRun
from sigmawatch_operator.observe import Observed
from sigmawatch_operator.planning import format_time, next_training_at
from sigmawatch_operator.recorded import LastJob, Recorded


@dataclass(frozen=True, slots=True)
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass
class Outcome:
    status: dict[str, Any]
    events: list[Event] = field(default_factory=list)
    # False: `status` holds only the fields to change; the others stay as they are.
    whole: bool = True


def report(observed: Observed, plan: Plan, acted: Acted) -> Outcome:
    if observed.spec is None:
        return _invalid(observed, observed.invalid or "invalid spec")
    spec = observed.spec
    now = format_time(observed.now)
    recorded = observed.recorded
    events: list[Event] = []
    last_job = recorded.last_job
    trained_key, last_trained_at = recorded.trained_key, recorded.last_trained_at
    covered, trained, failed = (
        recorded.series_covered,
        recorded.series_trained,
        recorded.series_failed,
    )
    last_error = recorded.last_error
    if plan.record is not None:
        run = plan.record
        last_job = _finished(run, recorded.last_job)
        trained_key, last_trained_at = run.job.key, run.finished_at
        covered = run.summary.total or covered
        trained, failed = run.summary.trained, run.summary.failed
        last_error = _error_of(run)
        events.append(_run_event(run, last_error))
    running = plan.follow
    pending = None
    if running is not None and running.name in observed.summaries:  # progress so far
        so_far = observed.summaries[running.name]
        trained, failed = so_far.trained, so_far.failed
        # Unknown from a copy read before the start recorded the fleet's size: not 0.
        pending = None if covered is None else max(covered - trained - failed, 0)
    if acted.started is not None:
        started = acted.started
        reason = plan.start.reason if plan.start else None
        covered, trained, failed, pending = started.series, 0, 0, started.series
        last_job = LastJob(started.name, "Running", reason, started_at=now)
        verb = "adopted" if started.adopted else "started"
        events.append(
            Event(
                "Normal",
                "TrainingStarted",
                f"Job {started.name} {verb}: {started.series} series in {started.shards} "
                f"shard(s) ({reason}); correlation id {started.correlation_id}",
            )
        )
        size = started.size
        if size is not None and not size.fits and not started.adopted:
            events.append(
                Event(
                    "Warning",
                    "DeadlineTooShort",
                    f"Job {started.name} is estimated at {size.estimate_s:.0f} s with "
                    f"{size.parallelism} pods at a time, past its deadline of "
                    f"{size.deadline_s} s: raise job.parallelism or "
                    "job.activeDeadlineSeconds, or leave them unset to derive both",
                )
            )
    if acted.start_problem is not None:
        code, message = acted.start_problem
        last_error = {"code": code, "message": message}
    training = running is not None or acted.started is not None
    job_name = running.name if running else (acted.started.name if acted.started else "")
    after = Recorded(trained_key=trained_key, last_trained_at=last_trained_at)

    status: dict[str, Any] = {
        "seriesDescription": spec.describe(),
        "observedGeneration": observed.model.generation,
        "nextTrainingAt": next_training_at(spec, after),
        "trainedKey": trained_key,
        "lastTrainedAt": last_trained_at,
        "lastJob": last_job.to_status() if last_job else None,
        "seriesCovered": covered,
        "seriesTrained": trained,
        "seriesFailed": failed,
        # Series a run in progress has not reached yet; 0 once it ends.
        "seriesPending": pending if training else (0 if covered is not None else None),
        "lastError": last_error,
        "appliedRetention": (
            spec.keep_versions if acted.archived is not None else recorded.applied_retention
        ),
    }
    if spec.series_id is not None:
        series = observed.series
        latest = series.latest_version if series else 0
        production = acted.pinned or (series.production_version if series else None)
        status["latestVersion"] = format_version(latest) if latest else None
        status["productionVersion"] = format_version(production) if production else None
    events += _action_events(acted, spec.keep_versions, recorded.condition(cond.DEGRADED))
    problem = acted.pin_problem or acted.retain_problem
    degraded: Problem | None = problem or (
        (last_error["code"], last_error.get("message", "")) if last_error else None
    )
    status["conditions"] = cond.merge_conditions(
        list(recorded.conditions),
        _conditions(observed.served, covered, job_name if training else None, degraded),
        now=now,
        generation=observed.model.generation,
    )
    return Outcome(status, events)


def _action_events(acted: Acted, keep: int, degraded_before: dict[str, Any]) -> list[Event]:
    """What act changed; problems only when they are new (per transition, not per reconcile)."""
    events = []
    if acted.pinned is not None:
        events.append(
            Event("Normal", "ProductionPinned", f"production set to {format_version(acted.pinned)}")
        )
    if acted.released:
        events.append(Event("Normal", "PinReleased", "production is no longer held by this model"))
    if acted.archived:
        message = f"archived {acted.archived} version(s); keeping {keep}"
        events.append(Event("Normal", "RetentionApplied", message))
    for reason, problem in (
        ("PinnedVersionUnavailable", acted.pin_problem),
        ("RetentionFailed", acted.retain_problem),
    ):
        if problem is not None and degraded_before.get("reason") != problem[0]:
            events.append(Event("Warning", reason, f"{problem[0]}: {problem[1]}"))
    return events


def _conditions(
    served: int, covered: int | None, running_job: str | None, degraded: Problem | None
) -> list[dict[str, Any]]:
    """Ready: every covered series serves a production version (issue 10: a fleet was
    Ready once its first series served); a run in progress is `Training`."""
    training = running_job is not None
    ready = served > 0 and (covered is None or served >= covered)
    if ready:
        reason, message = "Serving", "production versions serve predictions"
    elif served:
        reason, message = "PartlyServing", f"{served:,} of {covered:,} series serve a version"
    else:
        reason = "Training" if training else "NotTrained"
        message = "no version serves yet"
    return [
        cond.condition(cond.READY, ready, reason, message),
        cond.condition(
            cond.TRAINING,
            training,
            "JobRunning" if training else "Idle",
            f"Job {running_job}" if training else "",
        ),
        cond.condition(
            cond.DEGRADED,
            degraded is not None,
            degraded[0] if degraded else "AsExpected",
            degraded[1] if degraded else "",
        ),
    ]


def _finished(run: RecordRun, previous: LastJob | None) -> LastJob:
    job = run.job
    started = previous.started_at if previous and previous.name == job.name else job.created
    return LastJob(
        name=job.name,
        phase="Succeeded" if job.succeeded else "Failed",
        reason=job.reason,
        message=job.message,
        started_at=started,
        finished_at=run.finished_at,
    )


def _error_of(run: RecordRun) -> dict[str, Any] | None:
    summary, job = run.summary, run.job
    if summary.top_error:
        return {**summary.top_error, "failedSeries": summary.failed}
    if not job.succeeded:
        return {"code": job.reason or "JobFailed", "message": job.message or "training Job failed"}
    return None


def _run_event(run: RecordRun, error: dict[str, Any] | None) -> Event:
    summary = run.summary
    text = f"{summary.trained} of {summary.total} series trained ({summary.created} new versions)"
    if run.job.succeeded and not summary.failed:
        return Event("Normal", "TrainingSucceeded", f"Job {run.job.name}: {text}")
    error = error or {}
    return Event(
        "Warning",
        "TrainingFailed",
        f"Job {run.job.name}: {text}; {error.get('code')}: {error.get('message')}",
    )


def _invalid(observed: Observed, message: str) -> Outcome:
    generation = observed.model.generation
    recorded = observed.recorded
    new = [
        cond.condition(cond.READY, False, "InvalidSpec", message),
        cond.condition(cond.TRAINING, False, "InvalidSpec", ""),
        cond.condition(cond.DEGRADED, True, "InvalidSpec", message),
    ]
    status = {
        "observedGeneration": generation,
        "conditions": cond.merge_conditions(
            list(recorded.conditions), new, now=format_time(observed.now), generation=generation
        ),
    }
    events = []
    if not recorded.is_true(cond.DEGRADED) or recorded.observed_generation != generation:
        events.append(Event("Warning", "InvalidSpec", message))
    # What the last valid spec trained stays on record for when the spec is fixed.
    return Outcome(status, events, whole=False)
