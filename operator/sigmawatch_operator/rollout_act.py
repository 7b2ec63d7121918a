"""Act: carry a ModelRollout plan out through the rollout driver and the registry.

Thin on purpose: every change goes through `sigmawatch.rollouts.driver`
(the same code the service's loop runs for API rollouts) with
`Driver.OPERATOR`, so the registry's compare-and-set makes a second replica
or a repeated tick harmless. An outage propagates (retried soon); a failure
that retrying cannot fix is part of the result and shows in status.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.registry import ACTIVE, Registry
from sigmawatch.registry.rollout_records import Driver, RolloutRecord
from sigmawatch.rollouts import driver
from sigmawatch.rollouts.policy import Decision
from sigmawatch.validation import format_version
from sigmawatch_operator.rollout_decide import Plan, Step
from sigmawatch_operator.rollout_observe import Observed
from sigmawatch_operator.rollout_spec import Problem, RolloutResource, Target

log = logging.getLogger(__name__)

CANDIDATE_NOT_FOUND = "CandidateNotFound"
CANDIDATE_IS_PRODUCTION = "CandidateIsProduction"


@dataclass(frozen=True, slots=True)
class Acted:
    record: RolloutRecord | None  # the registry rollout after this tick
    decision: Decision | None = None  # the analysis this tick stored
    started: bool = False
    problem: Problem | None = None


def _problem(exc: SigmawatchError) -> Problem:
    if exc.retryable:
        raise exc
    return exc.code.value, exc.message


@dataclass
class RolloutExecutor:
    registry: Registry
    analyzer: driver.Analyzer

    def act(self, observed: Observed, plan: Plan) -> Acted:
        rollout = observed.rollout
        if plan.step is Step.START:
            assert observed.resource is not None
            if observed.resource.istio is not None:
                return self._start_istio(observed, observed.resource)
            assert plan.target is not None
            return self._start(observed, observed.resource, plan.target)
        if rollout is None:
            return Acted(None, problem=plan.problem)
        try:
            if plan.step is Step.ANALYSE:
                decision, updated = driver.analyse(self.analyzer, rollout, observed.now)
                if updated is None:  # moved meanwhile: show what it is now
                    return Acted(self.registry.get_rollout(rollout.rollout_id))
                return Acted(updated, decision)
            if plan.step is Step.PAUSE:
                return Acted(driver.pause(self.registry, rollout, Driver.OPERATOR))
            if plan.step is Step.RESUME:
                return Acted(driver.resume(self.registry, rollout, Driver.OPERATOR, observed.now))
        except SigmawatchError as exc:
            problem = _problem(exc)
            if exc.code is ErrorCode.ROLLOUT_NOT_ACTIVE:  # it ended meanwhile
                return Acted(self.registry.get_rollout(rollout.rollout_id))
            return Acted(rollout, problem=problem)
        return Acted(rollout, problem=plan.problem)

    def _start_istio(self, observed: Observed, resource: RolloutResource) -> Acted:
        """Between two inference Deployments: no members, judged on the pods' tracks."""
        assert resource.istio is not None
        try:
            record = driver.start(
                self.registry,
                resource.spec,
                [],
                driver=Driver.OPERATOR,
                now=observed.now,
                driver_ref=observed.ref.driver_ref,
                istio=resource.istio.in_namespace(observed.ref.namespace),
            )
        except SigmawatchError as exc:
            return Acted(None, problem=_problem(exc))
        return self._started(observed, record)

    def _started(self, observed: Observed, record: RolloutRecord) -> Acted:
        log.info(
            "rollout started for a ModelRollout",
            extra={"rollout": record.name, "model_rollout": observed.ref.driver_ref},
        )
        if observed.paused:
            record = driver.pause(self.registry, record, Driver.OPERATOR)
        return Acted(record, started=True)

    def _start(self, observed: Observed, resource: RolloutResource, series: Target) -> Acted:
        assert resource.candidate is not None
        query: dict[str, Any] = resource.candidate.query()
        try:
            if series.series_ids is not None:
                members = self.registry.resolve_members(series_ids=list(series.series_ids), **query)
            else:
                members = self.registry.resolve_members(prefix=series.prefix, **query)
            if not members:
                return Acted(None, problem=self._why_none(resource, series))
            record = driver.start(
                self.registry,
                resource.spec,
                members,
                driver=Driver.OPERATOR,
                now=observed.now,
                driver_ref=observed.ref.driver_ref,
                fleet=series.fleet,
            )
        except SigmawatchError as exc:
            return Acted(None, problem=_problem(exc))
        return self._started(observed, record)

    def _why_none(self, resource: RolloutResource, series: Target) -> Problem:
        """Why no series has a candidate: said as precisely as one series allows."""
        candidate = resource.candidate
        assert candidate is not None
        series_id = series.single
        if series_id is None:
            return (
                CANDIDATE_NOT_FOUND,
                f"none of {series.describe()} has {candidate.describe()} "
                "besides its production version",
            )
        found = self.registry.get_series(series_id)
        if found is None or found.production_version is None:
            return (
                ErrorCode.MODEL_NOT_FOUND.value,
                f"series {series_id} has no production version to roll out from",
            )
        if candidate.version is not None:
            version = self.registry.get_version(series_id, candidate.version)
            if version.status != ACTIVE:
                return (
                    ErrorCode.VERSION_ARCHIVED.value,
                    f"{version.name} of {series_id} is archived; restore it first",
                )
            return (
                CANDIDATE_IS_PRODUCTION,
                f"{format_version(candidate.version)} already serves {series_id}",
            )
        return (
            CANDIDATE_NOT_FOUND,
            f"{series_id} has no active version from {candidate.describe()} "
            "besides its production version",
        )
