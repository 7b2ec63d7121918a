"""The AnomalyModel reconcile: observe, decide (planning.py), act, report.

Blocking (Kubernetes and registry calls); the kopf handlers run it in a
thread. It returns the new status and the Events to post, and never keeps
state of its own between calls: everything it needs is in the object's
status, its Jobs and the registry, so a restarted operator picks up where
the last one stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sigmawatch.artifacts import ArtifactStore
from sigmawatch.errors import SigmawatchError
from sigmawatch.lifecycle import apply_retention
from sigmawatch.registry import Registry
from sigmawatch.registry.runs import RunSummary, prune_results, run_summary
from sigmawatch.settings import Settings
from sigmawatch.sources import Source, dataset_source, uri_source
from sigmawatch.validation import format_version
from sigmawatch_operator import conditions as cond
from sigmawatch_operator.config import OperatorConfig
from sigmawatch_operator.jobs import KEY_CHARS, JobState, build_job, job_name, job_state
from sigmawatch_operator.metrics import OperatorMetrics
from sigmawatch_operator.model_spec import InvalidSpecError, ModelSpec, parse_spec
from sigmawatch_operator.planning import format_time, next_training_at, pick_jobs, training_due

log = logging.getLogger(__name__)

# Per-series outcomes of training runs are kept this long, then dropped.
RESULTS_KEPT_DAYS = 30


class JobClient(Protocol):
    def list_jobs(self, namespace: str, model: str) -> list[dict[str, Any]]: ...

    def create_job(self, manifest: dict[str, Any]) -> None:
        """Create; an existing Job of that name is not an error."""
        ...


@dataclass(frozen=True, slots=True)
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass
class Outcome:
    status: dict[str, Any]
    events: list[Event] = field(default_factory=list)


@dataclass
class Reconciler:
    jobs: JobClient
    registry: Registry
    store: ArtifactStore
    settings: Settings
    config: OperatorConfig
    metrics: OperatorMetrics
    clock: Callable[[], datetime]

    def reconcile(self, body: dict[str, Any]) -> Outcome:
        meta = body["metadata"]
        previous = dict(body.get("status") or {})
        status = {k: v for k, v in previous.items() if k != "kopf"}
        out = Outcome(status)
        now = self.clock()
        try:
            spec = parse_spec(body.get("spec") or {})
        except InvalidSpecError as exc:
            self._invalid(out, str(exc), previous, now, meta.get("generation"))
            return out

        jobs = sorted(
            (job_state(j) for j in self.jobs.list_jobs(meta["namespace"], meta["name"])),
            key=lambda j: (j.created or "", j.name),
        )
        picked = pick_jobs(status, jobs)
        if picked.to_record is not None:
            self._record(out, spec, picked.to_record, now)
        active = picked.active
        reason = training_due(spec, status, now) if active is None else None
        if reason is not None:
            active = self._start(out, body, spec, reason, now)
        problems = self._enforce_pin(spec)
        if active is None and status.get("appliedRetention") != spec.keep_versions:
            self._retention(out, spec)
        if spec.single:
            self._versions(out, spec)
        status["seriesDescription"] = spec.describe()
        status["observedGeneration"] = meta.get("generation")
        status["nextTrainingAt"] = next_training_at(spec, status)
        self._conditions(out, spec, active, problems, previous, now, meta.get("generation"))
        return out

    # -- steps ------------------------------------------------------------------------

    def _source(self, spec: ModelSpec) -> Source:
        if spec.source_uri:
            return uri_source(
                spec.source_uri,
                s3_endpoint_url=self.settings.s3_endpoint_url,
                s3_region=self.settings.s3_region,
            )
        return dataset_source(self.store)

    def _series_count(self, spec: ModelSpec) -> int:
        if spec.explicit_series:
            return len(spec.explicit_series)
        return len(self._source(spec).list_series(spec.prefix or ""))

    def _start(
        self, out: Outcome, body: dict[str, Any], spec: ModelSpec, reason: str, now: datetime
    ) -> JobState | None:
        count = self._series_count(spec)
        status = out.status
        status["seriesCovered"] = count
        if count == 0:
            status["lastError"] = {"code": "NO_SERIES", "message": "the selector matched no data"}
            return None
        key = spec.training_key()
        name = job_name(body["metadata"]["name"], key, now.timestamp())
        shards = spec.shards(count)
        self.jobs.create_job(
            build_job(model=body, spec=spec, key=key, name=name, shards=shards, config=self.config)
        )
        self.metrics.jobs_created.inc()
        status["lastJob"] = {
            "name": name,
            "phase": "Running",
            "reason": reason,
            "startedAt": format_time(now),
        }
        out.events.append(
            Event(
                "Normal",
                "TrainingStarted",
                f"Job {name}: {count} series in {shards} shard(s) ({reason})",
            )
        )
        log.info("training job created", extra={"job": name, "series": count, "reason": reason})
        return JobState(name, key[:KEY_CHARS], format_time(now), False, False, None, None, None)

    def _record(self, out: Outcome, spec: ModelSpec, job: JobState, now: datetime) -> None:
        status = out.status
        summary = run_summary(self.registry, job.name)
        prune_results(self.registry, RESULTS_KEPT_DAYS)
        finished = job.completion_time or format_time(now)
        last = status.get("lastJob") or {}
        status["lastJob"] = {
            "name": job.name,
            "phase": "Succeeded" if job.succeeded else "Failed",
            "reason": job.reason,
            "message": job.message,
            "startedAt": last.get("startedAt") if last.get("name") == job.name else job.created,
            "finishedAt": finished,
        }
        status["trainedKey"] = job.key
        status["lastTrainedAt"] = finished
        if summary.total:
            status["seriesCovered"] = summary.total
        status["seriesTrained"] = summary.trained
        status["seriesFailed"] = summary.failed
        status["lastError"] = _error_of(job, summary)
        self.metrics.job_outcomes.labels("succeeded" if job.succeeded else "failed").inc()
        text = (
            f"{summary.trained} of {summary.total} series trained ({summary.created} new versions)"
        )
        if job.succeeded and not summary.failed:
            out.events.append(Event("Normal", "TrainingSucceeded", f"Job {job.name}: {text}"))
        else:
            error = status["lastError"] or {}
            out.events.append(
                Event(
                    "Warning",
                    "TrainingFailed",
                    f"Job {job.name}: {text}; {error.get('code')}: {error.get('message')}",
                )
            )

    def _enforce_pin(self, spec: ModelSpec) -> list[tuple[str, str]]:
        """Move the production pointer to a pinned version (GitOps rollback)."""
        if spec.pinned_version is None or spec.series_id is None:
            return []
        series = self.registry.get_series(spec.series_id)
        if series is not None and series.production_version == spec.pinned_version:
            return []
        try:
            self.registry.set_production(spec.series_id, spec.pinned_version)
        except SigmawatchError as exc:
            if series is None or series.latest_version == 0:
                return []  # nothing trained yet: the first Job will register versions
            return [(exc.code.value, exc.message)]
        log.info(
            "production pinned", extra={"series_id": spec.series_id, "version": spec.pinned_version}
        )
        return [("Pinned", format_version(spec.pinned_version))]

    def _retention(self, out: Outcome, spec: ModelSpec) -> None:
        archived = 0
        for series_id in spec.explicit_series:
            archived += len(
                apply_retention(self.registry, self.store, series_id, spec.keep_versions)
            )
        out.status["appliedRetention"] = spec.keep_versions
        if archived:
            out.events.append(
                Event(
                    "Normal",
                    "RetentionApplied",
                    f"archived {archived} version(s); keeping {spec.keep_versions}",
                )
            )

    def _versions(self, out: Outcome, spec: ModelSpec) -> None:
        assert spec.series_id is not None
        series = self.registry.get_series(spec.series_id)
        latest = series.latest_version if series else 0
        production = series.production_version if series else None
        out.status["latestVersion"] = format_version(latest) if latest else None
        out.status["productionVersion"] = format_version(production) if production else None

    def _serving(self, spec: ModelSpec, status: dict[str, Any]) -> bool:
        """Some covered series has a production version (old ones keep serving)."""
        if spec.single:  # `_versions` has just read it
            return bool(status.get("productionVersion"))
        if spec.explicit_series:
            return self.registry.count_served(ids=list(spec.explicit_series)) > 0
        return self.registry.count_served(prefix=spec.prefix) > 0

    def _conditions(
        self,
        out: Outcome,
        spec: ModelSpec,
        active: JobState | None,
        problems: list[tuple[str, str]],
        previous: dict[str, Any],
        now: datetime,
        generation: int | None,
    ) -> None:
        status = out.status
        error = status.get("lastError")
        pin_problems = [p for p in problems if p[0] != "Pinned"]
        degraded_before: dict[str, Any] = next(
            (c for c in previous.get("conditions") or [] if c.get("type") == cond.DEGRADED), {}
        )
        for code, message in problems:
            if code == "Pinned":
                out.events.append(
                    Event("Normal", "ProductionPinned", f"production set to {message}")
                )
            elif degraded_before.get("reason") != code:  # per transition, not per reconcile
                out.events.append(
                    Event("Warning", "PinnedVersionUnavailable", f"{code}: {message}")
                )
        degraded = (
            pin_problems[0]
            if pin_problems
            else ((error["code"], error.get("message", "")) if error else None)
        )
        serving = self._serving(spec, status)
        new = [
            cond.condition(
                cond.READY,
                serving,
                "Serving" if serving else ("Training" if active else "NotTrained"),
                "production versions serve predictions" if serving else "no version serves yet",
            ),
            cond.condition(
                cond.TRAINING,
                active is not None,
                "JobRunning" if active else "Idle",
                f"Job {active.name}" if active else "",
            ),
            cond.condition(
                cond.DEGRADED,
                degraded is not None,
                degraded[0] if degraded else "AsExpected",
                degraded[1] if degraded else "",
            ),
        ]
        status["conditions"] = cond.merge_conditions(
            previous.get("conditions"), new, now=format_time(now), generation=generation
        )

    def _invalid(
        self,
        out: Outcome,
        message: str,
        previous: dict[str, Any],
        now: datetime,
        generation: int | None,
    ) -> None:
        new = [
            cond.condition(cond.READY, False, "InvalidSpec", message),
            cond.condition(cond.TRAINING, False, "InvalidSpec", ""),
            cond.condition(cond.DEGRADED, True, "InvalidSpec", message),
        ]
        out.status["observedGeneration"] = generation
        out.status["conditions"] = cond.merge_conditions(
            previous.get("conditions"), new, now=format_time(now), generation=generation
        )
        if (
            not cond.is_true(previous, cond.DEGRADED)
            or previous.get("observedGeneration") != generation
        ):
            out.events.append(Event("Warning", "InvalidSpec", message))


def _error_of(job: JobState, summary: RunSummary) -> dict[str, Any] | None:
    if summary.top_error:
        return {**summary.top_error, "failedSeries": summary.failed}
    if not job.succeeded:
        return {"code": job.reason or "JobFailed", "message": job.message or "training Job failed"}
    return None
