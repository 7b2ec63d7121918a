"""The operator's long-lived parts, and the async adapters the handlers call."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from datetime import UTC, datetime
from typing import Any

import kopf
from kubernetes.client.exceptions import ApiException

from sigmawatch import tracing
from sigmawatch.artifacts import store_for
from sigmawatch.audit import Actor, acting_as
from sigmawatch.errors import SigmawatchError
from sigmawatch.registry import Registry, Writer
from sigmawatch.registry.postgres import open_registry
from sigmawatch.rollouts.driver import Analyzer
from sigmawatch.settings import StorageSettings
from sigmawatch.training_job import GROUP
from sigmawatch_operator import conditions as cond
from sigmawatch_operator.act import Executor
from sigmawatch_operator.config import OperatorConfig
from sigmawatch_operator.jobs import MODEL_LABEL, job_state
from sigmawatch_operator.kube import KubeApi
from sigmawatch_operator.metrics import OperatorMetrics
from sigmawatch_operator.model_spec import InvalidSpecError, parse_spec
from sigmawatch_operator.reconciler import Reconciler
from sigmawatch_operator.rollouts import RolloutController
from sigmawatch_operator.status_patch import write_status

log = logging.getLogger(__name__)

RETRY_DELAY_S = 15
# A second reconcile of one unchanged copy within this long is skipped; the timer's next
# tick (SIGMAWATCH_OPERATOR_RECONCILE_INTERVAL_S, 15 s) reconciles it again if needed.
DUPLICATE_WINDOW_S = 5.0
# Set on a model when one of its Jobs ends, so kopf's update handler runs at once. Not
# in the sigmawatch.dev domain: kopf ignores annotations of its own storages' prefix.
FINISHED_JOB_ANNOTATION = "training.sigmawatch.dev/finished-job"


def failure(exc: Exception, what: str) -> kopf.TemporaryError | kopf.PermanentError | None:
    """How kopf should treat a reconcile's failure; None: not one of ours to classify.

    Outages (the registry, the store, the API server) heal by themselves and
    are retried soon; a domain error that retrying cannot fix is permanent
    for this change (the drift timer still reconciles on its interval).
    """
    if isinstance(exc, SigmawatchError):
        if exc.retryable:
            return kopf.TemporaryError(f"{what}, retrying: {exc.message}", delay=RETRY_DELAY_S)
        return kopf.PermanentError(f"{what}: {exc.code.value}: {exc.message}")
    if isinstance(exc, ApiException | OSError):
        return kopf.TemporaryError(f"{what}, retrying: {exc}", delay=RETRY_DELAY_S)
    return None


def utcnow() -> datetime:
    return datetime.now(UTC)


class OperatorApp:
    def __init__(
        self, settings: StorageSettings, config: OperatorConfig, *, namespaced: bool = False
    ) -> None:
        self.settings = settings
        self.config = config
        # Restricted to namespaces, it needs no cluster-wide grant at all: the
        # resources are discovered once at start instead of watching CRDs.
        self.namespaced = namespaced
        self.metrics = OperatorMetrics()
        self.registry: Registry | None = None
        self.reconciler: Reconciler | None = None
        self.rollouts: RolloutController | None = None
        self.kube: KubeApi | None = None
        # kopf runs timers beside event handlers: one reconcile per object at a time.
        self._locks: dict[str, asyncio.Lock] = {}
        self._ready: dict[str, bool] = {}
        # Per model: the resourceVersion last reconciled, and when.
        self._reconciled: dict[str, tuple[str | None, float]] = {}
        self._finished_jobs: set[str] = set()  # Jobs whose end was passed on to their model

    # -- lifecycle --------------------------------------------------------------------

    def configure(self, settings: kopf.OperatorSettings) -> None:
        settings.persistence.finalizer = f"{GROUP}/finalizer"
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
            prefix=GROUP, key="last-handled-configuration"
        )
        settings.peering.name = "sigmawatch"
        settings.peering.mandatory = True
        settings.peering.lifetime = self.config.peering_lifetime_s
        # Equal priorities freeze every replica; distinct random ones elect one.
        settings.peering.priority = random.randint(1, 2**31 - 1)  # noqa: S311 - not security
        log.info("joining peering", extra={"peering_priority": settings.peering.priority})
        # kopf posts each handler log at this level or above as an Event; at INFO,
        # "Timer ... succeeded." every rollout tick (each second) would be one. The
        # operator's own Events go out through kopf.event, which no level filters.
        settings.posting.level = logging.WARNING
        settings.scanning.disabled = self.namespaced

    def start(self) -> None:
        self.registry = open_registry(self.settings, min_size=1, max_size=4)
        self.kube = KubeApi()
        executor = Executor(
            self.kube, self.registry, store_for(self.settings), self.settings, self.config
        )
        self.reconciler = Reconciler(self.kube, self.registry, executor, self.metrics, utcnow)
        analyzer = Analyzer(self.registry, executor.store)
        self.rollouts = RolloutController(
            self.kube.get_model, self.registry, analyzer, self.metrics, utcnow, self.kube
        )
        self.metrics.serve(self.config.metrics_port, self.config.metrics_host)

    def stop(self) -> None:
        if self.registry is not None:
            self.registry.close()

    # -- AnomalyModel -------------------------------------------------------------------

    async def reconcile_model(self, body: kopf.Body, patch: kopf.Patch) -> None:
        assert self.reconciler is not None
        uid = body["metadata"]["uid"]
        lock = self._locks.setdefault(uid, asyncio.Lock())
        async with lock:
            version = body["metadata"].get("resourceVersion")
            if self._just_reconciled(uid, version):
                return
            with self.metrics.reconcile_seconds.labels("AnomalyModel").time():
                # One snapshot for the reconcile and the status diff: timers get
                # a live body that may move on while the reconcile runs.
                snapshot = _plain(body)
                try:
                    # OBS-5: the reconcile's registry calls, and a training Job it starts
                    # (its TRACEPARENT), belong to this span's trace.
                    traced = _traced(body, "anomalymodel")
                    with acting_as(_actor(body)), tracing.span("operator.reconcile", traced):
                        outcome = await asyncio.to_thread(self.reconciler.reconcile, snapshot)
                except Exception as exc:
                    self.metrics.reconciles.labels("AnomalyModel", "error").inc()
                    classified = failure(exc, "reconcile failed")
                    if classified is None:
                        raise
                    raise classified from exc
        self.metrics.reconciles.labels("AnomalyModel", "ok").inc()
        write_status(patch, snapshot["status"], outcome)
        self._reconciled[uid] = (version, time.monotonic())
        for event in outcome.events:
            kopf.event(body, type=event.type, reason=event.reason, message=event.message)
        self._count_ready(uid, cond.is_true(outcome.status, cond.READY))

    async def model_deleted(self, body: kopf.Body) -> None:
        # Registry rows and artifacts are kept on purpose (docs/operator.md):
        # the versions keep serving and can be adopted by a new AnomalyModel.
        # A pin this model held is released: nothing would enforce it any more.
        meta = body["metadata"]
        try:
            series_id = parse_spec(dict(body.get("spec") or {})).series_id
        except InvalidSpecError:
            series_id = None
        if series_id is not None and self.registry is not None:
            writer = Writer.pin(meta["namespace"], meta["name"])
            try:
                with acting_as(_actor(body)):
                    await asyncio.to_thread(self.registry.release_pointer, series_id, by=writer)
            except SigmawatchError as exc:
                log.warning(
                    "could not release the pin of a deleted model",
                    extra={"series_id": series_id, "holder": writer.holder, "error": exc.message},
                )
        uid = meta["uid"]
        self._locks.pop(uid, None)
        self._ready.pop(uid, None)
        self._reconciled.pop(uid, None)
        self._count_ready(None, False)
        log.info(
            "AnomalyModel deleted; its registry versions and artifacts are kept",
            extra={"model": body["metadata"]["name"], "namespace": body["metadata"]["namespace"]},
        )

    async def job_changed(self, body: kopf.Body, event_type: str | None) -> None:
        """One of our training Jobs changed. When it has just finished, its model is
        annotated, and kopf's update handler reconciles it now instead of on the next
        timer tick (issue 10). Events of the listing at start-up are skipped: the resume
        handler reconciles every model then anyway."""
        if event_type != "MODIFIED" or self.kube is None:
            return
        job = dict(body)
        state = job_state(job)
        if not state.finished or state.name in self._finished_jobs:
            return
        self._finished_jobs.add(state.name)
        meta = job["metadata"]
        outcome = "succeeded" if state.succeeded else "failed"
        await asyncio.to_thread(
            self.kube.annotate_model,
            meta["namespace"],
            meta["labels"][MODEL_LABEL],  # the handler only sees Jobs with the label
            {FINISHED_JOB_ANNOTATION: f"{state.name} {outcome}"},
        )

    def _just_reconciled(self, uid: str, version: str | None) -> bool:
        """The same copy of the object was reconciled moments ago, before its status patch
        could come back: after a restart kopf's resume handler and the timer both hold the
        copy read at start-up, and the second would report a finished Job again."""
        last = self._reconciled.get(uid)
        return (
            version is not None
            and last is not None
            and last[0] == version
            and time.monotonic() - last[1] < DUPLICATE_WINDOW_S
        )

    def _count_ready(self, uid: str | None, ready: bool) -> None:
        if uid is not None:
            self._ready[uid] = ready
        values = list(self._ready.values())
        self.metrics.models.labels("true").set(sum(values))
        self.metrics.models.labels("false").set(len(values) - sum(values))

    # -- ModelRollout ---------------------------------------------------------------------

    async def reconcile_rollout(self, body: kopf.Body, patch: kopf.Patch) -> None:
        """One tick of a ModelRollout: on its changes and on the rollout timer."""
        assert self.rollouts is not None
        uid = body["metadata"]["uid"]
        async with self._locks.setdefault(uid, asyncio.Lock()):
            with self.metrics.reconcile_seconds.labels("ModelRollout").time():
                snapshot = _plain(body)
                try:
                    traced = _traced(body, "modelrollout")  # OBS-5: a trace a tick
                    with acting_as(_actor(body)), tracing.span("operator.rollout", traced):
                        outcome = await asyncio.to_thread(self.rollouts.reconcile, snapshot)
                except Exception as exc:
                    self.metrics.reconciles.labels("ModelRollout", "error").inc()
                    classified = failure(exc, "rollout tick failed")
                    if classified is None:
                        raise
                    raise classified from exc
        self.metrics.reconciles.labels("ModelRollout", "ok").inc()
        write_status(patch, snapshot["status"], outcome)
        for event in outcome.events:
            kopf.event(body, type=event.type, reason=event.reason, message=event.message)

    async def rollout_deleted(self, body: kopf.Body) -> None:
        """Abort its active rollout; kopf keeps the finalizer until this returns."""
        assert self.rollouts is not None
        uid = body["metadata"]["uid"]
        async with self._locks.setdefault(uid, asyncio.Lock()):
            try:
                with acting_as(_actor(body)):
                    event = await asyncio.to_thread(self.rollouts.delete, _plain(body))
            except Exception as exc:
                # Only an outage is retried; a domain error must not keep the object forever.
                if isinstance(exc, SigmawatchError) and not exc.retryable:
                    log.warning("rollout not aborted", extra={"error": exc.message})
                    event = None
                else:
                    classified = failure(exc, "rollout abort failed")
                    if classified is None:
                        raise
                    raise classified from exc
        self._locks.pop(uid, None)
        if event is not None:
            kopf.event(body, type=event.type, reason=event.reason, message=event.message)


def _actor(body: kopf.Body) -> Actor:
    """Who the registry's audit log names for what a resource's handlers do (SEC-4)."""
    meta = body["metadata"]
    return Actor(f"operator/{meta['namespace']}/{meta['name']}")


def _traced(body: kopf.Body, kind: str) -> dict[str, str]:
    meta = body["metadata"]
    return {"k8s.namespace.name": meta["namespace"], f"{kind}.name": meta["name"]}


def _plain(body: kopf.Body) -> dict[str, Any]:
    return {
        "metadata": dict(body["metadata"]),
        "spec": dict(body.get("spec") or {}),
        "status": dict(body.get("status") or {}),
    }
