"""Observe: everything the AnomalyModel reconcile decides from, read in one place.

Reads only: the spec, the recorded status, the model's Jobs, the registry
facts about its series. A registry outage surfaces here as a retryable
STORAGE_UNAVAILABLE before anything is changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sigmawatch.registry import Registry, RunSummary, SeriesRecord
from sigmawatch_operator.job_client import JobClient
from sigmawatch_operator.jobs import JobState, job_state
from sigmawatch_operator.model_spec import InvalidSpecError, ModelSpec, parse_spec
from sigmawatch_operator.planning import parse_time, pick_jobs
from sigmawatch_operator.recorded import Recorded


@dataclass(frozen=True, slots=True)
class ModelRef:
    name: str
    namespace: str
    uid: str
    generation: int | None
    created: datetime | None

    @classmethod
    def from_metadata(cls, meta: dict[str, Any]) -> ModelRef:
        return cls(
            name=meta["name"],
            namespace=meta["namespace"],
            uid=meta.get("uid", ""),
            generation=meta.get("generation"),
            created=parse_time(meta.get("creationTimestamp")),
        )

    def manifest(self) -> dict[str, Any]:
        """What Job building needs of the owner."""
        return {"metadata": {"name": self.name, "namespace": self.namespace, "uid": self.uid}}


@dataclass(frozen=True, slots=True)
class Observed:
    model: ModelRef
    spec: ModelSpec | None
    invalid: str | None  # why the spec cannot be used, when it cannot
    recorded: Recorded
    jobs: tuple[JobState, ...]  # oldest first
    summaries: dict[str, RunSummary]  # per-series outcomes of finished, unrecorded Jobs
    series: SeriesRecord | None  # the registry's row, for a single-series model
    served: int  # covered series that have a production version
    now: datetime


def observe(
    body: dict[str, Any], *, jobs: JobClient, registry: Registry, now: datetime
) -> Observed:
    model = ModelRef.from_metadata(body["metadata"])
    recorded = Recorded.from_status(dict(body.get("status") or {}))
    try:
        spec: ModelSpec | None = parse_spec(body.get("spec") or {})
        invalid = None
    except InvalidSpecError as exc:
        spec, invalid = None, str(exc)
    if spec is None:
        return Observed(model, None, invalid, recorded, (), {}, None, False, now)
    states = sorted(
        (job_state(j) for j in jobs.list_jobs(model.namespace, model.name)),
        key=lambda j: (j.created or "", j.name),
    )
    picked = pick_jobs(recorded, states)
    # The run to record, and the one in progress: its counts so far are its progress.
    summaries = {
        job.name: registry.run_summary(job.name)
        for job in (picked.to_record, picked.active)
        if job is not None
    }
    series = registry.get_series(spec.series_id) if spec.series_id else None
    if spec.single:
        served = int(series is not None and series.production_version is not None)
    elif spec.explicit_series:
        served = registry.count_served(ids=list(spec.explicit_series))
    else:
        served = registry.count_served(prefix=spec.prefix)
    return Observed(model, spec, None, recorded, tuple(states), summaries, series, served, now)
