"""The audit log (SEC-4): who did what, when, to which series, and how it ended.

The registry writes an entry in the same transaction as every change it
makes (a training's version, a pointer move, an archive or restore, a
rollout's start and transitions, labels, API keys), so no change commits
without its entry. Who did it is not passed to each call: every entry point
(an HTTP request, a CLI command, an operator handler, a training Job) says
once who acts with `acting_as`, and the entries written inside take it from
there (docs/decisions/0013).

The actor also carries the correlation id (OBS-3): the one name of a
retrain or a rollout across every process that works on it. The operator
makes it, the training Job gets it in its environment, and the registry
stores it on the audit entries, training results and rollouts it writes;
the JSON logs print it on every line written while it acts.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import datetime
from hashlib import sha256
from typing import Any

from sigmawatch import tracing


@dataclass(frozen=True, slots=True)
class Actor:
    """`key/<name>`, `token/<subject>`, `anonymous` (authentication off), `cli/<user>`,
    `job/<namespace>/<job>`, `operator/<namespace>/<resource>`, or `service` (its own
    rollout loop)."""

    name: str
    client: str | None = None  # the caller's address
    request_id: str | None = None
    trace_id: str | None = None
    correlation_id: str | None = None


UNKNOWN = Actor("unknown")
_current: ContextVar[Actor] = ContextVar("sigmawatch_actor", default=UNKNOWN)


@contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    token = _current.set(actor)
    try:
        yield actor
    finally:
        _current.reset(token)


def current_actor() -> Actor:
    return _current.get()


@contextmanager
def correlated(correlation_id: str | None) -> Iterator[Actor]:
    """Act as the current actor within the operation `correlation_id` names (None: as is)."""
    actor = current_actor()
    if correlation_id is None or correlation_id == actor.correlation_id:
        yield actor
        return
    with acting_as(replace(actor, correlation_id=correlation_id)) as changed:
        yield changed


def operation_id() -> str:
    """The correlation id of what the current actor does now; a new one when it has none."""
    return current_actor().correlation_id or secrets.token_hex(8)


def correlation_for(*parts: str) -> str:
    """A correlation id every replica derives alike from the same names (16 hex digits)."""
    return sha256("/".join(parts).encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One action to record. `actor` None: whoever acts now (`current_actor`)."""

    action: str  # e.g. train, rollback, pin, archive, rollout.start, apikey.revoke
    outcome: str  # e.g. created, existing, moved, refused:POINTER_HELD
    series_id: str | None = None
    version: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    actor: Actor | None = None

    def by(self) -> Actor:
        """Who acts, with the active trace when the actor brought none: a CLI command,
        a training Job and the operator act inside their own spans (OBS-5)."""
        actor = self.actor or current_actor()
        if actor.trace_id is None and (trace_id := tracing.current_trace_id()) is not None:
            return replace(actor, trace_id=trace_id)
        return actor


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    at: datetime
    actor: str
    action: str
    outcome: str
    series_id: str | None
    version: int | None
    details: Mapping[str, Any]
    request_id: str | None
    trace_id: str | None
    client: str | None
    correlation_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "outcome": self.outcome,
            "series_id": self.series_id,
            "version": f"v{self.version}" if self.version is not None else None,
            "details": dict(self.details),
            "request_id": self.request_id,
            "trace_id": self.trace_id,
            "client": self.client,
            "correlation_id": self.correlation_id,
        }


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Newest first; `before` is the cursor (an entry id)."""

    actor: str | None = None
    action: str | None = None  # exact, or a prefix ending in "." (rollout.)
    series_id: str | None = None
    correlation_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before: int | None = None
    limit: int = 100


@dataclass(frozen=True, slots=True)
class AuditPage:
    entries: list[AuditRecord]
    next_before: int | None


def matches(record: AuditRecord, query: AuditQuery) -> bool:
    action = query.action
    return (
        (query.actor is None or record.actor == query.actor)
        and (
            action is None
            or record.action == action
            or (action.endswith(".") and record.action.startswith(action))
        )
        and (query.series_id is None or record.series_id == query.series_id)
        and (query.correlation_id is None or record.correlation_id == query.correlation_id)
        and (query.since is None or record.at >= query.since)
        and (query.until is None or record.at < query.until)
        and (query.before is None or record.id < query.before)
    )
