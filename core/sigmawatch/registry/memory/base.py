"""The state behind `MemoryRegistry`, and the lock every call takes."""

from __future__ import annotations

import dataclasses
import functools
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Concatenate

from sigmawatch.access import ApiKeyRecord
from sigmawatch.audit import AuditEntry, AuditRecord
from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.registry.catalogue import CatalogueQuery
from sigmawatch.registry.errors import model_not_found, registry_unavailable, version_not_found
from sigmawatch.registry.health_protocol import SharedCounts
from sigmawatch.registry.health_records import PeriodCounts
from sigmawatch.registry.records import SeriesRecord, VersionRecord
from sigmawatch.registry.rollout_records import (
    RolloutMember,
    RolloutRecord,
    StatsRow,
    TrackRow,
    Transition,
)


@dataclass
class Series:
    record: SeriesRecord
    updated_at: datetime
    usage_rank: float | None = None  # sigmawatch.usage_rank


@dataclass
class Version:
    record: VersionRecord  # is_production is filled in when read
    activated: int  # order in which versions last became useful


@dataclass
class Result:
    outcome: str
    version: int | None
    code: str | None
    message: str | None
    finished_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class StoredRollout:
    record: RolloutRecord
    members: dict[str, RolloutMember]
    transitions: list[Transition] = field(default_factory=list)


class MemoryFeed:
    def __init__(self, events: queue.Queue[str]) -> None:
        self._events = events

    def changes(self, timeout: float) -> Iterator[str]:
        try:
            yield self._events.get(timeout=timeout)
            while True:
                yield self._events.get_nowait()
        except queue.Empty:
            return


class MemoryState:
    def __init__(self, *, series_lock_wait_s: float = 10.0) -> None:
        self.down = False
        self.series_lock_wait_s = series_lock_wait_s
        self.lock = threading.RLock()
        self.series: dict[str, Series] = {}
        self.versions: dict[tuple[str, int], Version] = {}
        self.results: dict[tuple[str, str], Result] = {}
        self.series_locks: dict[str, threading.Lock] = {}
        self.feeds: list[queue.Queue[str]] = []
        self.order = count()
        # Rollouts, statistics and labels (memory/rollouts.py).
        self.rollouts: dict[int, StoredRollout] = {}
        self.rollout_ids = count(1)
        self.active_members: dict[str, int] = {}  # series → its active rollout
        self.stats: dict[tuple[str, int, datetime], StatsRow] = {}
        self.tracks: dict[tuple[str, datetime], TrackRow] = {}
        self.labels: dict[str, dict[int, tuple[float, bool, datetime]]] = {}
        # Hourly and daily periods, drift references (memory/health.py).
        self.periods: dict[tuple[timedelta, str, int, datetime], PeriodCounts] = {}
        self.summary: SharedCounts | None = None
        self.drift_references: dict[tuple[str, int], tuple[float, ...]] = {}
        # API keys by hash and the audit log (memory/access.py).
        self.api_keys: dict[str, ApiKeyRecord] = {}
        self.audit_log: list[AuditRecord] = []
        self.audit_ids = count(1)

    def up(self) -> None:
        if self.down:
            raise registry_unavailable()

    def changed(self, series_id: str) -> None:
        self.series[series_id].updated_at = datetime.now(UTC)
        self.announce(series_id)

    def announce(self, change: str) -> None:
        for events in self.feeds:
            events.put(change)

    def write_audit(self, entry: AuditEntry) -> None:
        """Called last by a changing method, so a change that fails leaves no entry."""
        actor = entry.by()
        self.audit_log.append(
            AuditRecord(
                id=next(self.audit_ids),
                at=datetime.now(UTC),
                actor=actor.name,
                action=entry.action,
                outcome=entry.outcome,
                series_id=entry.series_id,
                version=entry.version,
                details=dict(entry.details),
                request_id=actor.request_id,
                trace_id=actor.trace_id,
                client=actor.client,
                correlation_id=actor.correlation_id,
            )
        )

    def stored_rollout(self, rollout_id: int) -> StoredRollout:
        stored = self.rollouts.get(rollout_id)
        if stored is None:
            raise SigmawatchError(
                ErrorCode.ROLLOUT_NOT_FOUND,
                f"there is no rollout r{rollout_id}",
                rollout=rollout_id,
            )
        return stored

    def in_active_rollout(self, series_id: str, version: int) -> bool:
        rollout_id = self.active_members.get(series_id)
        if rollout_id is None:
            return False
        member = self.rollouts[rollout_id].members[series_id]
        return version in (member.stable, member.candidate)

    def view(self, entry: Version) -> VersionRecord:
        series = self.series[entry.record.series_id].record
        is_production = series.production_version == entry.record.version
        return dataclasses.replace(entry.record, is_production=is_production)

    def entry(self, series_id: str, version: int) -> Version:
        if series_id not in self.series:
            raise model_not_found(series_id)
        found = self.versions.get((series_id, version))
        if found is None:
            raise version_not_found(series_id, version)
        return found

    def update_series(self, series_id: str, **changes: object) -> None:
        state = self.series[series_id]
        state.record = dataclasses.replace(state.record, **changes)  # type: ignore[arg-type]

    def of_series(self, series_id: str) -> list[Version]:
        found = [e for (s, _), e in self.versions.items() if s == series_id]
        return sorted(found, key=lambda e: e.record.version)


def atomic[S: MemoryState, **P, R](
    method: Callable[Concatenate[S, P], R],
) -> Callable[Concatenate[S, P], R]:
    """One call at a time, and none while the registry is `down`."""

    def call(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self.lock:
            self.up()
            return method(self, *args, **kwargs)

    functools.update_wrapper(call, method)
    return call


def matches(record: VersionRecord, query: CatalogueQuery) -> bool:
    return (
        (not query.series_prefix or record.series_id.startswith(query.series_prefix))
        and (not query.detector_kind or record.detector.kind == query.detector_kind)
        and (not query.status or record.status == query.status)
        and (not query.production_only or record.is_production)
        and (not query.created_after or record.created_at >= query.created_after)
        and (not query.created_before or record.created_at < query.created_before)
    )
