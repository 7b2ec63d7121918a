"""Act: carry a plan out against Kubernetes, the registry and the artifact store.

Thin on purpose: each step does what the plan says and reports what
happened as a typed result for `report.py`. A retryable failure (storage
down, the API server unreachable) propagates so the reconcile is retried
soon; a failure that retrying cannot fix (a pin to an archived version, a
Job the API server refuses) is part of the result and shows in status.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sigmawatch.artifacts import ArtifactStore
from sigmawatch.audit import correlated, current_actor
from sigmawatch.errors import SigmawatchError
from sigmawatch.fleet import write_shard_lists
from sigmawatch.lifecycle import apply_retention
from sigmawatch.registry import Registry
from sigmawatch.settings import StorageSettings
from sigmawatch.sources import Source, dataset_source, uri_source
from sigmawatch.training_job import run_correlation
from sigmawatch_operator.config import OperatorConfig
from sigmawatch_operator.decide import Pin, Plan, Retain, StartRun
from sigmawatch_operator.job_client import JobClient, JobRejectedError
from sigmawatch_operator.jobs import build_job, shard_lists_prefix
from sigmawatch_operator.model_spec import ModelSpec
from sigmawatch_operator.observe import Observed
from sigmawatch_operator.run_size import RunSize, size_run

log = logging.getLogger(__name__)

# Per-series outcomes of training runs are kept this long, then dropped.
RESULTS_KEPT_DAYS = 30

type Problem = tuple[str, str]  # (code, message)


@dataclass(frozen=True, slots=True)
class Started:
    name: str
    series: int
    shards: int
    adopted: bool  # the Job existed already (another replica, or an earlier attempt)
    size: RunSize | None = None
    correlation_id: str | None = None  # the Job's SIGMAWATCH_CORRELATION_ID (OBS-3)


@dataclass(frozen=True, slots=True)
class Acted:
    started: Started | None = None
    start_problem: Problem | None = None  # NO_SERIES, JobRejected
    pinned: int | None = None  # the version production moved to
    pin_problem: Problem | None = None
    released: bool = False
    archived: int | None = None  # versions archived; None when retention did not run
    retain_problem: Problem | None = None


@dataclass
class Executor:
    jobs: JobClient
    registry: Registry
    store: ArtifactStore
    settings: StorageSettings
    config: OperatorConfig

    def act(self, observed: Observed, plan: Plan) -> Acted:
        spec = observed.spec
        if spec is None:
            return Acted()
        if plan.record is not None:
            self.registry.prune_results(RESULTS_KEPT_DAYS)
        started, start_problem = self._start(observed, spec, plan.start)
        pinned, pin_problem = self._pin(plan.pin)
        released = plan.release is not None and self.registry.release_pointer(
            plan.release.series_id, by=plan.release.writer
        )
        archived, retain_problem = self._retain(plan.retain)
        return Acted(
            started, start_problem, pinned, pin_problem, released, archived, retain_problem
        )

    def _source(self, spec: ModelSpec) -> Source:
        if spec.source_uri:
            return uri_source(
                spec.source_uri,
                s3_endpoint_url=self.settings.s3_endpoint_url,
                s3_region=self.settings.s3_region,
            )
        return dataset_source(self.store)

    def _start(
        self, observed: Observed, spec: ModelSpec, start: StartRun | None
    ) -> tuple[Started | None, Problem | None]:
        if start is None:
            return None, None
        listed = None if spec.explicit_series else self._source(spec).list_series(spec.prefix or "")
        count = len(spec.explicit_series or listed or ())
        if count == 0:
            return None, ("NO_SERIES", "the selector matched no data")
        size = size_run(spec, count, self.config.seconds_per_series)
        lists = None
        if listed is not None and size.shards > 1:  # each index reads its share (issue 10)
            lists = shard_lists_prefix(start.name)
            write_shard_lists(self.store, lists, listed, size.shards)
        with correlated(run_correlation(observed.model.namespace, start.name)):
            return self._create(observed, spec, start, count, size, lists)

    def _create(
        self,
        observed: Observed,
        spec: ModelSpec,
        start: StartRun,
        count: int,
        size: RunSize,
        lists: str | None,
    ) -> tuple[Started | None, Problem | None]:
        manifest = build_job(
            model=observed.model.manifest(),
            spec=spec,
            key=start.key,
            name=start.name,
            size=size,
            config=self.config,
            shard_lists=lists,
        )
        try:
            created = self.jobs.create_job(manifest)
        except JobRejectedError as exc:
            return None, ("JobRejected", str(exc))
        log.info(
            "training job created" if created else "training job adopted",
            extra={"job": start.name, "series": count, "reason": start.reason},
        )
        started = Started(
            start.name,
            count,
            size.shards,
            adopted=not created,
            size=size,
            correlation_id=current_actor().correlation_id,
        )
        return started, None

    def _pin(self, pin: Pin | None) -> tuple[int | None, Problem | None]:
        if pin is None:
            return None, None
        try:
            move = self.registry.set_production(pin.series_id, pin.version, by=pin.writer)
        except SigmawatchError as exc:
            if exc.retryable:
                raise
            return None, (exc.code.value, exc.message)
        log.info("production pinned", extra={"series_id": pin.series_id, "version": pin.version})
        return move.record.version, None

    def _retain(self, retain: Retain | None) -> tuple[int | None, Problem | None]:
        if retain is None:
            return None, None
        archived = 0
        try:
            for series_id in retain.series_ids:
                self.registry.set_keep_versions(series_id, retain.keep)
                archived += len(apply_retention(self.registry, self.store, series_id, retain.keep))
        except SigmawatchError as exc:
            if exc.retryable:
                raise
            return None, (exc.code.value, exc.message)
        return archived, None
