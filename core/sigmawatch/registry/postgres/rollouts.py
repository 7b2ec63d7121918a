"""Rollouts: started, moved and finished in transactions that hold the members' series rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg.types.json import Jsonb

from sigmawatch.audit import correlated, current_actor, operation_id
from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.registry import audit_entries
from sigmawatch.registry.errors import model_not_found, version_archived, version_not_found
from sigmawatch.registry.pointer import Writer, pointer_held
from sigmawatch.registry.postgres import _rollout_sql as sql
from sigmawatch.registry.postgres import _sql
from sigmawatch.registry.postgres.access import write_audit
from sigmawatch.registry.postgres.connection import Conn, publish
from sigmawatch.registry.rollout_records import (
    NewRollout,
    RolloutMember,
    RolloutRecord,
    Route,
    Transition,
)
from sigmawatch.rollouts.policy import ACTIVE, Phase, RolloutState
from sigmawatch.rollouts.spec import Strategy


def notify_rollout(conn: Conn, rollout_id: int) -> None:
    publish(conn, {"rollout": rollout_id})


def start(conn: Conn, new: NewRollout) -> int:
    # The rollout keeps the id of the operation that starts it, made here if none came
    # with the request, and its start's audit entry carries it too (OBS-3).
    with correlated(operation_id()):
        return _start(conn, new)


def _start(conn: Conn, new: NewRollout) -> int:
    members = new.members
    if not members and new.istio is None:
        raise SigmawatchError(ErrorCode.INVALID_ROLLOUT, "the rollout has no series to roll out")
    ids = [m.series_id for m in members]
    rows = {r["series_id"]: r for r in conn.execute(sql.LOCK_MEMBER_SERIES, (ids,))}
    for member in members:
        row = rows.get(member.series_id)
        if row is None:
            raise model_not_found(member.series_id)
        if row["pointer_holder"] is not None:
            raise pointer_held(member.series_id, row["pointer_holder"])
        if row["production_version"] != member.stable:
            raise SigmawatchError(
                ErrorCode.INVALID_ROLLOUT,
                f"stable must be production: {member.series_id!r} serves "
                f"v{row['production_version']}, not v{member.stable}",
                series_id=member.series_id,
            )
    if members:
        _check_candidates(conn, members)
    state = new.state
    rollout_id: int = conn.execute(
        sql.INSERT_ROLLOUT,
        {
            "strategy": new.spec.strategy.value,
            "spec": Jsonb(new.spec.to_dict()),
            "driver": new.driver.value,
            "driver_ref": new.driver_ref,
            "fleet": new.fleet,
            "istio": Jsonb(new.istio.to_dict()) if new.istio else None,
            "phase": state.phase.value,
            "step": state.step,
            "weight": state.weight,
            "members": len(members),
            "started_at": state.started_at,
            "step_started_at": state.step_started_at,
            "reason": "started",
            "correlation_id": current_actor().correlation_id,
        },
    ).fetchone()["rollout_id"]  # type: ignore[index]
    conn.execute(
        sql.INSERT_MEMBERS,
        (rollout_id, ids, [m.stable for m in members], [m.candidate for m in members]),
    )
    conn.execute(sql.HOLD_MEMBERS, (Writer.rollout(rollout_id).holder, ids))
    conn.execute(
        sql.INSERT_TRANSITION, (rollout_id, state.phase.value, state.step, state.weight, "started")
    )
    write_audit(conn, audit_entries.rollout_started(rollout_id, new))
    notify_rollout(conn, rollout_id)
    return rollout_id


def _check_candidates(conn: Conn, members: Sequence[RolloutMember]) -> None:
    keys = ([m.series_id for m in members], [m.candidate for m in members])
    found = {
        (r["series_id"], r["version"]): r["status"]
        for r in conn.execute(
            "SELECT series_id, version, status FROM model_versions"
            " WHERE (series_id, version) IN (SELECT * FROM unnest(%s::text[], %s::int[]))",
            keys,
        )
    }
    for member in members:
        status = found.get((member.series_id, member.candidate))
        if status is None:
            raise version_not_found(member.series_id, member.candidate)
        if status != "active":
            raise version_archived(member.series_id, member.candidate)


def get(conn: Conn, rollout_id: int) -> RolloutRecord:
    row = conn.execute(sql.ROLLOUT, (rollout_id,)).fetchone()
    if row is None:
        raise SigmawatchError(
            ErrorCode.ROLLOUT_NOT_FOUND, f"there is no rollout r{rollout_id}", rollout=rollout_id
        )
    return sql.rollout_from_row(row)


def update(
    conn: Conn,
    rollout_id: int,
    revision: int,
    state: RolloutState,
    reason: str,
    analysis: dict[str, object] | None,
) -> bool:
    """Inside a transaction; False when the rollout is not at `revision` any more."""
    before = conn.execute(
        "SELECT phase, step, weight, fleet, members FROM rollouts WHERE rollout_id = %s FOR UPDATE",
        (rollout_id,),
    ).fetchone()
    finished = state.phase not in ACTIVE
    moved = conn.execute(
        sql.UPDATE_ROLLOUT,
        {
            "rollout_id": rollout_id,
            "revision": revision,
            "phase": state.phase.value,
            "step": state.step,
            "weight": state.weight,
            "failures": state.failures,
            "step_started_at": state.step_started_at,
            "reason": reason,
            "analysis": Jsonb(analysis) if analysis is not None else None,
            "finished": finished,
        },
    ).fetchone()
    if moved is None or before is None:
        return False
    entry = audit_entries.rollout_changed(
        rollout_id,
        _single_series(conn, rollout_id, before),
        (before["phase"], before["step"], before["weight"]),
        state,
        reason,
    )
    if entry is not None:
        conn.execute(
            sql.INSERT_TRANSITION,
            (rollout_id, state.phase.value, state.step, state.weight, reason),
        )
        write_audit(conn, entry)
    if finished:
        _finish(conn, rollout_id, promoted=state.phase is Phase.PROMOTED)
    notify_rollout(conn, rollout_id)
    return True


def _single_series(conn: Conn, rollout_id: int, row: dict[str, Any]) -> str | None:
    """The series of a one-series rollout, for its audit entries."""
    if row["fleet"] or row["members"] != 1:
        return None
    found = conn.execute(
        "SELECT series_id FROM rollout_members WHERE rollout_id = %s", (rollout_id,)
    ).fetchone()
    return found["series_id"] if found else None


def _finish(conn: Conn, rollout_id: int, *, promoted: bool) -> None:
    conn.execute(sql.LOCK_ROLLOUT_SERIES, (rollout_id,))
    holder = {"rollout_id": rollout_id, "holder": Writer.rollout(rollout_id).holder}
    if promoted:
        conn.execute(sql.PROMOTE_MEMBERS, holder)
        conn.execute(sql.ACTIVATE_CANDIDATES, (rollout_id,))
        conn.execute(
            "SELECT pg_notify(%s, json_build_object('series_id', series_id,"
            " 'event', 'production')::text) FROM rollout_members WHERE rollout_id = %s",
            (_sql.CHANNEL, rollout_id),
        )
    else:
        conn.execute(sql.RELEASE_MEMBERS, holder)
    conn.execute(sql.DEACTIVATE_MEMBERS, (rollout_id,))


def members(conn: Conn, rollout_id: int) -> list[RolloutMember]:
    return [
        RolloutMember(r["series_id"], r["stable_version"], r["candidate_version"])
        for r in conn.execute(sql.MEMBERS, (rollout_id,))
    ]


def transitions(conn: Conn, rollout_id: int) -> list[Transition]:
    return [
        Transition(r["at"], r["phase"], r["step"], r["weight"], r["reason"])
        for r in conn.execute(sql.TRANSITIONS, (rollout_id,))
    ]


def routes(conn: Conn, rollout_ids: Sequence[int] | None) -> list[Route]:
    query = sql.ROUTES + (" AND r.rollout_id = ANY(%s)" if rollout_ids is not None else "")
    rows = conn.execute(query, (list(rollout_ids),) if rollout_ids is not None else ())
    return [
        Route(
            rollout_id=r["rollout_id"],
            revision=r["revision"],
            strategy=Strategy(r["strategy"]),
            weight=r["weight"],
            fleet=r["fleet"],
            series_id=r["series_id"],
            stable=r["stable_version"],
            candidate=r["candidate_version"],
        )
        for r in rows
    ]


def resolve_members(
    conn: Conn,
    *,
    series_ids: list[str] | None,
    prefix: str | None,
    candidate: int | None,
    run_id: str | None,
    spec_hash: str | None,
) -> list[RolloutMember]:
    args = {
        "ids": series_ids,
        "prefix": prefix,
        "candidate": candidate,
        "run_id": run_id,
        "spec_hash": spec_hash,
    }
    if candidate is not None:
        query = sql.MEMBERS_BY_VERSION
    elif run_id is not None:
        query = sql.MEMBERS_BY_RUN
    elif spec_hash is not None:
        query = sql.MEMBERS_BY_SPEC
    else:
        raise SigmawatchError(
            ErrorCode.INVALID_ROLLOUT, "name the candidate: a version, a training run or a detector"
        )
    return [
        RolloutMember(r["series_id"], r["stable"], r["candidate"])
        for r in conn.execute(query, args)
    ]
