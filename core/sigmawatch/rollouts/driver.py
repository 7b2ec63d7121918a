"""Driving a rollout: start it, analyse it each interval, pause, resume or abort it.

The one implementation behind both drivers: the service's loop (rollouts
started through REST or the CLI) and the operator's ModelRollout
controller. Every change goes through the registry's compare-and-set, so
two pods or two operator replicas analysing at once change it once.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np

from sigmawatch.artifacts import ArtifactStore
from sigmawatch.audit import correlated
from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.loading import LoadedModel, load_model
from sigmawatch.registry import Registry
from sigmawatch.registry.rollout_records import (
    Driver,
    Feedback,
    IstioRoute,
    NewRollout,
    RolloutMember,
    RolloutRecord,
)
from sigmawatch.rollouts.policy import Action, Decision, Phase, RolloutState, first_state, judge
from sigmawatch.rollouts.spec import RolloutSpec, Strategy
from sigmawatch.rollouts.window import Confusion, VersionWindow

log = logging.getLogger(__name__)

MODELS_KEPT = 256  # loaded versions an analyser keeps for scoring labels


def start(
    registry: Registry,
    spec: RolloutSpec,
    members: list[RolloutMember],
    *,
    driver: Driver,
    now: datetime,
    driver_ref: str | None = None,
    fleet: bool = False,
    istio: IstioRoute | None = None,
) -> RolloutRecord:
    if not members and istio is None:
        raise SigmawatchError(
            ErrorCode.INVALID_ROLLOUT,
            "no series to roll out: none has a candidate other than its production version",
        )
    new = NewRollout(spec, tuple(members), driver, first_state(spec, now), driver_ref, fleet, istio)
    record = registry.start_rollout(new)
    with correlated(record.correlation_id):  # made by the registry when none came in
        log.info("rollout started", extra={"rollout": record.name, "members": record.members})
    return record


def confusion(model: LoadedModel, feedback: Feedback) -> Confusion:
    """How one version scores labeled points: exact for any version, models being stateless."""
    flagged = model.score(feedback.values).anomalies
    truth = feedback.labels
    return Confusion(
        tp=int(np.count_nonzero(flagged & truth)),
        fp=int(np.count_nonzero(flagged & ~truth)),
        tn=int(np.count_nonzero(~flagged & ~truth)),
        fn=int(np.count_nonzero(~flagged & truth)),
    )


class Analyzer:
    """Reads a rollout's statistics and scores its labels; keeps a few models loaded."""

    def __init__(self, registry: Registry, store: ArtifactStore) -> None:
        self.registry = registry
        self.store = store
        self._models: OrderedDict[tuple[str, int], LoadedModel] = OrderedDict()

    def _model(self, series_id: str, version: int) -> LoadedModel:
        key = (series_id, version)
        model = self._models.get(key)
        if model is None:
            model = load_model(self.registry.get_version(series_id, version), self.store)
            self._models[key] = model
            while len(self._models) > MODELS_KEPT:
                self._models.popitem(last=False)
        self._models.move_to_end(key)
        return model

    def windows(self, rollout: RolloutRecord) -> tuple[VersionWindow, VersionWindow]:
        """Stable over the rollout so far, the candidate over its current step; labels
        received since the rollout started, scored by both versions."""
        state = rollout.state
        if rollout.istio is not None:  # two Deployments: judged on the pods' tracks
            return self.registry.track_windows(
                stable_since=state.started_at, candidate_since=state.step_started_at
            )
        stable, candidate = self.registry.rollout_windows(
            rollout.rollout_id,
            stable_since=state.started_at,
            candidate_since=state.step_started_at,
        )
        if not rollout.spec.analysis.uses_labels:
            return stable, candidate
        members = self.registry.rollout_members(rollout.rollout_id)
        labeled = self.registry.feedback([m.series_id for m in members], since=state.started_at)
        on_stable = on_candidate = Confusion()
        for member in members:
            points = labeled.get(member.series_id)
            if points is not None:
                on_stable += confusion(self._model(member.series_id, member.stable), points)
                on_candidate += confusion(self._model(member.series_id, member.candidate), points)
        return (
            dataclasses.replace(stable, labeled=on_stable),
            dataclasses.replace(candidate, labeled=on_candidate),
        )


def due(rollout: RolloutRecord, now: datetime) -> bool:
    """Analysed at most once per interval."""
    interval = rollout.spec.analysis.interval_seconds
    return rollout.active and (now - rollout.updated_at).total_seconds() >= interval


def analysis_document(
    decision: Decision, stable: VersionWindow, candidate: VersionWindow, now: datetime
) -> dict[str, Any]:
    return {
        "at": now.isoformat(),
        "action": decision.action.value,
        "reason": decision.reason,
        "checks": [check.to_dict() for check in decision.checks],
        "stable": stable.to_dict(),
        "candidate": candidate.to_dict(),
    }


def analyse(
    analyzer: Analyzer, rollout: RolloutRecord, now: datetime
) -> tuple[Decision, RolloutRecord | None]:
    """One analysis interval: judge, then store (None when another driver got there first)."""
    with correlated(rollout.correlation_id):  # its moves and their log lines name it (OBS-3)
        return _analyse(analyzer, rollout, now)


def _analyse(
    analyzer: Analyzer, rollout: RolloutRecord, now: datetime
) -> tuple[Decision, RolloutRecord | None]:
    stable, candidate = analyzer.windows(rollout)
    decision = judge(rollout.spec, rollout.state, stable, candidate, now)
    updated = analyzer.registry.update_rollout(
        rollout.rollout_id,
        revision=rollout.revision,
        state=decision.state,
        reason=decision.reason,
        analysis=analysis_document(decision, stable, candidate, now),
    )
    if updated is not None and decision.action is not Action.HOLD:
        log.info(
            "rollout moved",
            extra={
                "rollout": rollout.name,
                "action": decision.action.value,
                "reason": decision.reason,
            },
        )
    return decision, updated


def _owned(rollout: RolloutRecord, driver: Driver) -> None:
    if rollout.driver is not driver:
        raise SigmawatchError(
            ErrorCode.ROLLOUT_DRIVER_MISMATCH,
            f"rollout {rollout.name} is driven by the {rollout.driver.value}; change it there",
            rollout=rollout.name,
            driver=rollout.driver.value,
            driver_ref=rollout.driver_ref,
        )
    if not rollout.active:
        raise SigmawatchError(
            ErrorCode.ROLLOUT_NOT_ACTIVE,
            f"rollout {rollout.name} has ended ({rollout.state.phase.value})",
            rollout=rollout.name,
            phase=rollout.state.phase.value,
        )


def _change(
    registry: Registry,
    rollout: RolloutRecord,
    driver: Driver,
    next_state: Callable[[RolloutRecord], RolloutState],
    reason: str,
) -> RolloutRecord:
    """Apply a driver's command; when an analysis moved the rollout meanwhile, apply it
    again to what the rollout is now."""
    with correlated(rollout.correlation_id):
        for _ in range(5):
            _owned(rollout, driver)
            updated = registry.update_rollout(
                rollout.rollout_id,
                revision=rollout.revision,
                state=next_state(rollout),
                reason=reason,
            )
            if updated is not None:
                return updated
            rollout = registry.get_rollout(rollout.rollout_id)
    raise SigmawatchError(
        ErrorCode.STORAGE_UNAVAILABLE, f"rollout {rollout.name} keeps changing; retry"
    )


def pause(registry: Registry, rollout: RolloutRecord, driver: Driver) -> RolloutRecord:
    _owned(rollout, driver)
    if rollout.state.phase is Phase.PAUSED:
        return rollout
    return _change(
        registry,
        rollout,
        driver,
        lambda r: dataclasses.replace(r.state, phase=Phase.PAUSED),
        "paused",
    )


def resume(
    registry: Registry, rollout: RolloutRecord, driver: Driver, now: datetime
) -> RolloutRecord:
    """Back to shadowing or progressing at the same step, its window started afresh."""
    _owned(rollout, driver)
    if rollout.state.phase is not Phase.PAUSED:
        return rollout
    running = Phase.SHADOWING if rollout.spec.strategy is Strategy.SHADOW else Phase.PROGRESSING
    return _change(
        registry,
        rollout,
        driver,
        lambda r: dataclasses.replace(r.state, phase=running, step_started_at=now, failures=0),
        "resumed",
    )


def abort(
    registry: Registry, rollout: RolloutRecord, driver: Driver, reason: str = "aborted"
) -> RolloutRecord:
    """End it now: stable keeps production, the candidate gets no more traffic."""
    return _change(
        registry,
        rollout,
        driver,
        lambda r: dataclasses.replace(r.state, phase=Phase.ABORTED, weight=0),
        reason,
    )
