"""The audit entries the registry writes beside its changes (SEC-4), built once for both
implementations. Each is written in the transaction of the change it describes, and
only when something changed: a pin re-applied on every reconcile leaves no entry.
"""

from __future__ import annotations

from sigmawatch.access import ApiKeyRecord
from sigmawatch.audit import AuditEntry
from sigmawatch.errors import SigmawatchError
from sigmawatch.registry.pointer import Writer, WriterKind
from sigmawatch.registry.rollout_records import NewRollout
from sigmawatch.rollouts.policy import Phase, RolloutState

_MOVES = {WriterKind.API: "rollback", WriterKind.PIN: "pin"}


def trained(
    series_id: str, version: int, *, created: bool, promoted: bool, held_by: str | None
) -> AuditEntry:
    """A training's version: the registry writes `created` ones as it registers them,
    `train_series` the `existing` ones it answers without registering."""
    details: dict[str, object] = {"promoted": promoted}
    if held_by:
        details["held_by"] = held_by
    return AuditEntry("train", "created" if created else "existing", series_id, version, details)


def training_failed(run_id: str, series_id: str, error: SigmawatchError) -> AuditEntry:
    return AuditEntry(
        "train",
        f"failed:{error.code.value}",
        series_id,
        details={"run_id": run_id, "message": error.message[:300]},
    )


def pointer_moved(series_id: str, version: int, previous: int | None, by: Writer) -> AuditEntry:
    details: dict[str, object] = {"from": f"v{previous}" if previous else None}
    if by.name:
        details["holder"] = by.holder
    return AuditEntry(_MOVES.get(by.kind, "production.move"), "moved", series_id, version, details)


def released(series_id: str, by: Writer) -> AuditEntry:
    action = "unpin" if by.kind is WriterKind.PIN else "production.release"
    return AuditEntry(action, "released", series_id, details={"holder": by.holder})


def archived(series_id: str, version: int) -> AuditEntry:
    return AuditEntry("archive", "archived", series_id, version)


def restored(series_id: str, version: int) -> AuditEntry:
    return AuditEntry("restore", "restored", series_id, version)


def rollout_started(rollout_id: int, new: NewRollout) -> AuditEntry:
    members = new.members
    single = members[0] if len(members) == 1 and not new.fleet else None
    details: dict[str, object] = {
        "rollout": f"r{rollout_id}",
        "strategy": new.spec.strategy.value,
        "members": len(members),
        "driver": new.driver.value,
    }
    if new.istio is not None:
        details["virtual_service"] = new.istio.virtual_service
    return AuditEntry(
        "rollout.start",
        new.state.phase.value,
        single.series_id if single else None,
        single.candidate if single else None,
        details,
    )


def rollout_changed(
    rollout_id: int,
    series_id: str | None,
    before: tuple[str, int, int],
    state: RolloutState,
    reason: str,
) -> AuditEntry | None:
    """None when phase, step and weight stayed (an analysis that held)."""
    if before == (state.phase.value, state.step, state.weight):
        return None
    action = "rollout.abort" if state.phase is Phase.ABORTED else "rollout.transition"
    details: dict[str, object] = {
        "rollout": f"r{rollout_id}",
        "from": before[0],
        "weight": state.weight,
        "step": state.step,
        "reason": reason[:300],
    }
    return AuditEntry(action, state.phase.value, series_id, details=details)


def labels_stored(series_id: str, labels: int, replaced: int) -> AuditEntry:
    return AuditEntry(
        "feedback", "stored", series_id, details={"labels": labels, "replaced": replaced}
    )


def key_created(record: ApiKeyRecord) -> AuditEntry:
    return AuditEntry("apikey.create", "created", details=_key(record))


def key_revoked(record: ApiKeyRecord) -> AuditEntry:
    return AuditEntry("apikey.revoke", "revoked", details=_key(record))


def _key(record: ApiKeyRecord) -> dict[str, object]:
    return {"name": record.name, "role": record.role.value, "hint": record.hint}
