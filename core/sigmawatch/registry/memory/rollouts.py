"""`MemoryRegistry`'s rollouts, statistics and labels, with PostgreSQL's semantics."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime

from sigmawatch.audit import correlated, current_actor, operation_id
from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.registry import audit_entries
from sigmawatch.registry.errors import model_not_found, version_archived, version_not_found
from sigmawatch.registry.memory.base import StoredRollout, atomic
from sigmawatch.registry.memory.labels import StatsAndLabels
from sigmawatch.registry.pointer import Writer, pointer_held
from sigmawatch.registry.records import ACTIVE as ACTIVE_VERSION
from sigmawatch.registry.rollout_records import (
    NewRollout,
    RolloutMember,
    RolloutRecord,
    Route,
    Transition,
)
from sigmawatch.rollouts.policy import ACTIVE, Phase, RolloutState


class Rollouts(StatsAndLabels):
    @atomic
    def resolve_members(
        self,
        *,
        series_ids: list[str] | None = None,
        prefix: str | None = None,
        candidate: int | None = None,
        run_id: str | None = None,
        spec_hash: str | None = None,
    ) -> list[RolloutMember]:
        if candidate is None and run_id is None and spec_hash is None:
            raise SigmawatchError(
                ErrorCode.INVALID_ROLLOUT,
                "name the candidate: a version, a training run or a detector",
            )
        chosen = sorted(set(series_ids) if series_ids is not None else self.series)
        found = []
        for series_id in chosen:
            state = self.series.get(series_id)
            if state is None or not series_id.startswith(prefix or ""):
                continue
            stable = state.record.production_version
            pick = self._candidate(series_id, candidate, run_id, spec_hash)
            if stable is not None and pick is not None and pick != stable:
                found.append(RolloutMember(series_id, stable, pick))
        return found

    def _candidate(
        self, series_id: str, candidate: int | None, run_id: str | None, spec_hash: str | None
    ) -> int | None:
        if candidate is None and run_id is not None:
            result = self.results.get((run_id, series_id))
            candidate = result.version if result else None
        if candidate is not None:
            entry = self.versions.get((series_id, candidate))
            return candidate if entry and entry.record.status == ACTIVE_VERSION else None
        matching = [
            e.record.version
            for e in self.of_series(series_id)
            if e.record.spec_hash == spec_hash and e.record.status == ACTIVE_VERSION
        ]
        return max(matching) if matching else None

    @atomic
    def start_rollout(self, new: NewRollout) -> RolloutRecord:
        with correlated(operation_id()):  # as the PostgreSQL registry (OBS-3)
            return self._start_rollout(new)

    def _start_rollout(self, new: NewRollout) -> RolloutRecord:
        if not new.members and new.istio is None:
            raise SigmawatchError(
                ErrorCode.INVALID_ROLLOUT, "the rollout has no series to roll out"
            )
        for member in new.members:
            state = self.series.get(member.series_id)
            if state is None:
                raise model_not_found(member.series_id)
            if state.record.holder is not None:
                raise pointer_held(member.series_id, state.record.holder)
            if state.record.production_version != member.stable:
                raise SigmawatchError(
                    ErrorCode.INVALID_ROLLOUT,
                    f"stable must be production: {member.series_id!r} serves "
                    f"v{state.record.production_version}, not v{member.stable}",
                    series_id=member.series_id,
                )
            entry = self.versions.get((member.series_id, member.candidate))
            if entry is None:
                raise version_not_found(member.series_id, member.candidate)
            if entry.record.status != ACTIVE_VERSION:
                raise version_archived(member.series_id, member.candidate)
        rollout_id = next(self.rollout_ids)
        now = datetime.now(UTC)
        one = new.members[0] if new.members and not new.fleet else None
        record = RolloutRecord(
            rollout_id=rollout_id,
            spec=new.spec,
            state=new.state,
            driver=new.driver,
            driver_ref=new.driver_ref,
            fleet=new.fleet,
            members=len(new.members),
            revision=1,
            reason="started",
            last_analysis=None,
            created_at=now,
            updated_at=now,
            finished_at=None,
            series_id=one.series_id if one else None,
            stable=one.stable if one else None,
            candidate=one.candidate if one else None,
            istio=new.istio,
            correlation_id=current_actor().correlation_id,
        )
        stored = StoredRollout(record, {m.series_id: m for m in new.members})
        self.rollouts[rollout_id] = stored
        self._transition(stored, new.state, "started")
        holder = Writer.rollout(rollout_id).holder
        for member in new.members:
            self.active_members[member.series_id] = rollout_id
            self.update_series(member.series_id, holder=holder)
            self.changed(member.series_id)
        self.write_audit(audit_entries.rollout_started(rollout_id, new))
        self.announce(f"rollout:{rollout_id}")
        return record

    def _transition(self, stored: StoredRollout, state: RolloutState, reason: str) -> None:
        stored.transitions.append(
            Transition(datetime.now(UTC), state.phase.value, state.step, state.weight, reason)
        )

    @atomic
    def get_rollout(self, rollout_id: int) -> RolloutRecord:
        return self.stored_rollout(rollout_id).record

    @atomic
    def series_rollout(self, series_id: str) -> RolloutRecord | None:
        active = self.active_members.get(series_id)
        if active is not None:
            return self.rollouts[active].record
        mine = [i for i, r in self.rollouts.items() if series_id in r.members]
        return self.rollouts[max(mine)].record if mine else None

    @atomic
    def driven_rollout(self, driver_ref: str) -> RolloutRecord | None:
        mine = [i for i, r in self.rollouts.items() if r.record.driver_ref == driver_ref]
        return self.rollouts[max(mine)].record if mine else None

    @atomic
    def active_rollouts(self) -> list[RolloutRecord]:
        return [r.record for _, r in sorted(self.rollouts.items()) if r.record.active]

    @atomic
    def update_rollout(
        self,
        rollout_id: int,
        *,
        revision: int,
        state: RolloutState,
        reason: str,
        analysis: dict[str, object] | None = None,
    ) -> RolloutRecord | None:
        stored = self.stored_rollout(rollout_id)
        before = stored.record
        if before.revision != revision or not before.active:
            return None
        finished = state.phase not in ACTIVE
        now = datetime.now(UTC)
        stored.record = dataclasses.replace(
            before,
            state=state,
            reason=reason,
            revision=before.revision + 1,
            last_analysis=analysis if analysis is not None else before.last_analysis,
            updated_at=now,
            finished_at=now if finished else None,
        )
        was = (before.state.phase.value, before.state.step, before.state.weight)
        entry = audit_entries.rollout_changed(rollout_id, before.series_id, was, state, reason)
        if entry is not None:
            self._transition(stored, state, reason)
            self.write_audit(entry)
        if finished:
            self._finish(stored, promoted=state.phase is Phase.PROMOTED)
        self.announce(f"rollout:{rollout_id}")
        return stored.record

    def _finish(self, stored: StoredRollout, *, promoted: bool) -> None:
        holder = Writer.rollout(stored.record.rollout_id).holder
        for member in stored.members.values():
            self.active_members.pop(member.series_id, None)
            series = self.series[member.series_id].record
            if series.holder != holder:
                continue
            if promoted:
                self.versions[(member.series_id, member.candidate)].activated = next(self.order)
                self.update_series(
                    member.series_id, production_version=member.candidate, holder=None
                )
            else:
                self.update_series(member.series_id, holder=None)
            self.changed(member.series_id)

    @atomic
    def rollout_members(self, rollout_id: int) -> list[RolloutMember]:
        members = self.stored_rollout(rollout_id).members
        return [members[s] for s in sorted(members)]

    @atomic
    def transitions(self, rollout_id: int) -> list[Transition]:
        return list(self.stored_rollout(rollout_id).transitions)

    @atomic
    def routes(self, rollout_ids: Sequence[int] | None = None) -> list[Route]:
        found = []
        for rollout_id, stored in sorted(self.rollouts.items()):
            record = stored.record
            if not record.active:
                continue
            if rollout_ids is not None and rollout_id not in rollout_ids:
                continue
            found += [
                Route(
                    rollout_id,
                    record.revision,
                    record.spec.strategy,
                    record.state.weight,
                    record.fleet,
                    m.series_id,
                    m.stable,
                    m.candidate,
                )
                for m in stored.members.values()
            ]
        return found

    @atomic
    def route_revisions(self) -> dict[int, int]:
        return {i: r.record.revision for i, r in self.rollouts.items() if r.record.active}
