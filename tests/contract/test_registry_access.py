"""Registry contract, API keys (SEC-3) and the audit log (SEC-4): memory and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from sigmawatch.access import NewApiKey, Role, generate_key, hash_key, key_hint
from sigmawatch.artifacts import FileStore
from sigmawatch.audit import Actor, AuditEntry, AuditQuery, acting_as
from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.lifecycle import apply_retention
from sigmawatch.registry import API, Registry, Writer
from sigmawatch.registry.access_protocol import API_KEYS_CHANGE
from sigmawatch.registry.memory import MemoryRegistry
from sigmawatch.rollouts.policy import Phase
from sigmawatch.settings import TrainingSettings
from support.training import rollout, train, two_versions

ALICE = Actor("key/alice", client="10.1.2.3", request_id="req-1", trace_id="a" * 32)


def new_key(name: str, role: Role = Role.VIEWER, **extra: object) -> tuple[str, NewApiKey]:
    key = generate_key()
    return key, NewApiKey(name, role, hash_key(key), key_hint(key), "cli/test", **extra)  # type: ignore[arg-type]


def code_of(call) -> ErrorCode:  # type: ignore[no-untyped-def]
    with pytest.raises(SigmawatchError) as caught:
        call()
    return caught.value.code


def actions(registry: Registry, **query: object) -> list[tuple[str, str, str | None]]:
    page = registry.audit(AuditQuery(**query))  # type: ignore[arg-type]
    return [(e.action, e.outcome, e.series_id) for e in reversed(page.entries)]


def test_a_key_is_found_by_its_hash_only_while_it_is_live(any_registry: Registry) -> None:
    key, new = new_key("ci-bot", Role.TRAINER)
    created = any_registry.create_api_key(new)
    assert (created.name, created.role, created.hint) == ("ci-bot", Role.TRAINER, key[:10])
    found = any_registry.api_key(hash_key(key))
    assert found is not None
    assert found.usable(datetime.now(UTC))
    assert any_registry.api_key(hash_key(key + "x")) is None
    assert code_of(lambda: any_registry.create_api_key(new_key("ci-bot")[1])) is (
        ErrorCode.API_KEY_EXISTS
    )

    revoked = any_registry.revoke_api_key("ci-bot")
    assert revoked.revoked_at is not None
    after = any_registry.api_key(hash_key(key))
    assert after is not None
    assert not after.usable(datetime.now(UTC))
    assert code_of(lambda: any_registry.revoke_api_key("ci-bot")) is ErrorCode.API_KEY_NOT_FOUND
    assert [k.name for k in any_registry.list_api_keys()] == []
    assert [k.name for k in any_registry.list_api_keys(include_revoked=True)] == ["ci-bot"]
    any_registry.create_api_key(new_key("ci-bot")[1])  # a rotated key may take the name again


def test_expiry_and_last_use_are_kept(any_registry: Registry) -> None:
    past = datetime.now(UTC) - timedelta(minutes=1)
    key, new = new_key("expired", expires_at=past)
    any_registry.create_api_key(new)
    found = any_registry.api_key(hash_key(key))
    assert found is not None
    assert not found.usable(datetime.now(UTC))

    used = datetime.now(UTC).replace(microsecond=0)
    any_registry.touch_api_keys({hash_key(key): used})
    any_registry.touch_api_keys({hash_key(key): used - timedelta(hours=1)})  # never goes back
    touched = any_registry.api_key(hash_key(key))
    assert touched is not None
    assert touched.last_used_at == used


def test_a_revoked_key_is_announced_on_the_change_feed(any_registry: Registry) -> None:
    any_registry.create_api_key(new_key("leaked")[1])
    with any_registry.listen() as feed:
        any_registry.revoke_api_key("leaked")
        heard: list[str] = []
        for _ in range(10):
            heard += feed.changes(timeout=0.5)
            if API_KEYS_CHANGE in heard:
                break
    assert API_KEYS_CHANGE in heard


def test_every_change_is_audited_with_whoever_acts(
    any_registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    """SEC-4: trainings (created or not), pins, rollbacks, archives, restores, labels."""
    with acting_as(ALICE):
        train(any_registry, file_store, settings, "audited", 0)
        train(any_registry, file_store, settings, "audited", 0)  # the same data: no new version
        train(any_registry, file_store, settings, "audited", 1)
        any_registry.set_production("audited", 1, by=API)
        any_registry.set_production("audited", 1, by=API)  # nothing moves: no entry
    with acting_as(Actor("operator/plant/pump-1")):
        any_registry.set_production("audited", 2, by=Writer.pin("plant", "pump-1"))
        any_registry.release_pointer("audited", by=Writer.pin("plant", "pump-1"))
        apply_retention(any_registry, file_store, "audited", 1)
    with acting_as(Actor("key/labeller")):
        any_registry.record_feedback(
            "audited", np.array([1, 2]), np.array([0.5, 9.0]), np.array([False, True])
        )

    assert actions(any_registry) == [
        ("train", "created", "audited"),
        ("train", "existing", "audited"),
        ("train", "created", "audited"),
        ("rollback", "moved", "audited"),
        ("pin", "moved", "audited"),
        ("unpin", "released", "audited"),
        ("archive", "archived", "audited"),
        ("feedback", "stored", "audited"),
    ]
    first = any_registry.audit(AuditQuery(actor="key/alice")).entries[-1]
    assert (first.version, first.client, first.request_id, first.trace_id) == (
        1,
        "10.1.2.3",
        "req-1",
        "a" * 32,
    )
    assert first.details == {"promoted": True}
    pin = any_registry.audit(AuditQuery(action="pin")).entries[0]
    assert (pin.actor, pin.version, pin.details["from"]) == ("operator/plant/pump-1", 2, "v1")
    assert any_registry.audit(AuditQuery(action="feedback")).entries[0].details == {
        "labels": 2,
        "replaced": 0,
    }


def test_a_refused_change_leaves_no_entry(
    any_registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    train(any_registry, file_store, settings, "held", 0)
    train(any_registry, file_store, settings, "held", 1, promote=False)
    any_registry.set_production("held", 1, by=Writer.pin("plant", "m"))
    before = len(any_registry.audit(AuditQuery()).entries)
    assert code_of(lambda: any_registry.set_production("held", 2, by=API)) is (
        ErrorCode.POINTER_HELD
    )
    assert len(any_registry.audit(AuditQuery()).entries) == before


def test_rollouts_audit_their_start_and_every_move(
    any_registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    two_versions(any_registry, file_store, settings, "rolled")
    with acting_as(Actor("key/admin")):
        started = any_registry.start_rollout(rollout("rolled"))
    with acting_as(Actor("service")):
        held = any_registry.update_rollout(
            started.rollout_id, revision=1, state=started.state, reason="waiting"
        )
        assert held is not None
        aborted = dataclasses.replace(started.state, phase=Phase.ABORTED)
        any_registry.update_rollout(started.rollout_id, revision=2, state=aborted, reason="by hand")
    moves = any_registry.audit(AuditQuery(action="rollout.")).entries
    assert [(e.actor, e.action, e.outcome, e.series_id) for e in reversed(moves)] == [
        ("key/admin", "rollout.start", started.state.phase.value, "rolled"),
        ("service", "rollout.abort", "Aborted", "rolled"),
    ]
    assert moves[0].details["reason"] == "by hand"
    assert moves[-1].version == 2  # the candidate


def test_failed_trainings_of_a_run_are_audited(any_registry: Registry) -> None:
    error = SigmawatchError(ErrorCode.CONSTANT_SERIES, "every value is 3.0")
    with acting_as(Actor("job/plant/train-pumps-1")):
        any_registry.record_result("train-pumps-1", "flat", "failed", error=error)
        any_registry.record_result("train-pumps-1", "fine", "created", version=1)
    [entry] = any_registry.audit(AuditQuery()).entries
    assert (entry.actor, entry.outcome, entry.series_id) == (
        "job/plant/train-pumps-1",
        "failed:CONSTANT_SERIES",
        "flat",
    )
    assert entry.details["run_id"] == "train-pumps-1"


def test_the_log_is_paged_newest_first_and_filtered(any_registry: Registry) -> None:
    entries = [
        AuditEntry("dataset.upload", "stored", f"s{i}", actor=Actor(f"key/k{i % 2}"))
        for i in range(7)
    ]
    any_registry.record_audit(entries)
    first = any_registry.audit(AuditQuery(limit=3))
    assert [e.series_id for e in first.entries] == ["s6", "s5", "s4"]
    assert first.next_before is not None
    second = any_registry.audit(AuditQuery(limit=3, before=first.next_before))
    third = any_registry.audit(AuditQuery(limit=3, before=second.next_before))
    assert [e.series_id for e in second.entries + third.entries] == ["s3", "s2", "s1", "s0"]
    assert third.next_before is None
    assert len(any_registry.audit(AuditQuery(actor="key/k1")).entries) == 3
    assert [e.series_id for e in any_registry.audit(AuditQuery(series_id="s2")).entries] == ["s2"]
    assert any_registry.audit(AuditQuery(action="dataset.")).entries
    assert not any_registry.audit(AuditQuery(action="dataset")).entries  # exact, not a prefix
    soon = datetime.now(UTC) + timedelta(minutes=1)
    assert not any_registry.audit(AuditQuery(since=soon)).entries


def test_only_the_retention_purge_removes_entries(any_registry: Registry) -> None:
    any_registry.record_audit([AuditEntry("dataset.upload", "stored", "old")])
    backdate(any_registry, days=400)
    any_registry.record_audit([AuditEntry("dataset.upload", "stored", "new")])
    assert any_registry.prune_audit(365) == 1
    assert [e.series_id for e in any_registry.audit(AuditQuery()).entries] == ["new"]


def backdate(registry: Registry, *, days: int) -> None:
    """Age every entry: through the trigger's purge switch on PostgreSQL, since the
    log refuses UPDATE otherwise."""
    if isinstance(registry, MemoryRegistry):
        registry.audit_log[:] = [
            dataclasses.replace(e, at=e.at - timedelta(days=days)) for e in registry.audit_log
        ]
        return
    import psycopg

    with psycopg.connect(registry.url) as conn:  # type: ignore[attr-defined]
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change")
        conn.execute("UPDATE audit_log SET at = at - make_interval(days => %s)", (days,))
        conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_change")
