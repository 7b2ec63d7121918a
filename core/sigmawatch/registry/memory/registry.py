"""`MemoryRegistry`: the `Registry` protocol in one process's memory, for fast tests.

It keeps the PostgreSQL registry's contract (the same contract suite runs
on both): consecutive versions per series, one version per data and spec,
the pointer rules of docs/decisions/0010, retention by recency, a change
feed. One lock makes every call atomic; `down = True` makes every call
answer STORAGE_UNAVAILABLE, as an unreachable database would.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from sigmawatch.registry import audit_entries
from sigmawatch.registry.catalogue import CatalogueQuery, encode_cursor
from sigmawatch.registry.errors import model_not_found, series_busy, version_archived
from sigmawatch.registry.memory.access import Access
from sigmawatch.registry.memory.base import Series, Version, atomic, matches
from sigmawatch.registry.memory.rollouts import Rollouts
from sigmawatch.registry.pointer import Writer, check_move, may_promote
from sigmawatch.registry.records import (
    ACTIVE,
    ARCHIVED,
    CataloguePage,
    NewVersion,
    PointerMove,
    Registration,
    SeriesRecord,
    VersionRecord,
)

# NewVersion fields a VersionRecord takes over as they are.
_COPIED = (
    "series_id",
    "detector",
    "data_hash",
    "n_points",
    "stats",
    "training_start",
    "training_end",
    "artifact_prefix",
    "manifest_sha256",
    "training_ms",
    "source",
    "state",
)


class MemoryRegistry(Rollouts, Access):
    def ping(self) -> None:
        self.up()

    def close(self) -> None:
        pass

    # -- versions ---------------------------------------------------------------------

    @atomic
    def register(self, new: NewVersion, *, promote: bool) -> Registration:
        existing = self.find_by_data(new.series_id, new.data_hash, new.detector.spec_hash)
        if existing is not None:
            return Registration(existing, False)
        if new.series_id not in self.series:
            self.series[new.series_id] = Series(
                SeriesRecord(new.series_id, 0, None, 0), datetime.now(UTC)
            )
        series = self.series[new.series_id].record
        version = series.latest_version + 1
        moves = series.production_version is None or (promote and may_promote(series.holder))
        fields = {name: getattr(new, name) for name in _COPIED}
        record = VersionRecord(
            **fields,
            version=version,
            status=ACTIVE,
            spec_hash=new.detector.spec_hash,
            created_at=datetime.now(UTC),
            archived_at=None,
            is_production=False,
        )
        self.versions[(new.series_id, version)] = Version(record, next(self.order))
        self.update_series(
            new.series_id,
            latest_version=version,
            production_version=version if moves else series.production_version,
            keep_versions=new.keep_versions or series.keep_versions,
        )
        self.changed(new.series_id)
        held_by = series.holder if promote and not moves else None
        self.write_audit(
            audit_entries.trained(
                new.series_id, version, created=True, promoted=moves, held_by=held_by
            )
        )
        return Registration(self.get_version(new.series_id, version), True, held_by)

    @atomic
    def get_version(self, series_id: str, version: int) -> VersionRecord:
        return self.view(self.entry(series_id, version))

    @atomic
    def get_production(self, series_id: str) -> VersionRecord:
        state = self.series.get(series_id)
        if state is None or state.record.production_version is None:
            raise model_not_found(series_id)
        return self.view(self.entry(series_id, state.record.production_version))

    @atomic
    def get_series(self, series_id: str) -> SeriesRecord | None:
        state = self.series.get(series_id)
        return state.record if state else None

    @atomic
    def list_versions(self, series_id: str) -> list[VersionRecord]:
        found = [self.view(e) for e in self.of_series(series_id)]
        if not found:
            raise model_not_found(series_id)
        return found

    @atomic
    def find_by_data(self, series_id: str, data_hash: str, spec_hash: str) -> VersionRecord | None:
        for entry in self.of_series(series_id):
            if (entry.record.data_hash, entry.record.spec_hash) == (data_hash, spec_hash):
                return self.view(entry)
        return None

    @atomic
    def count_served(self, *, ids: list[str] | None = None, prefix: str | None = None) -> int:
        chosen = (
            set(ids) if ids is not None else {s for s in self.series if s.startswith(prefix or "")}
        )
        served = (self.series.get(s) for s in chosen)
        return sum(1 for s in served if s is not None and s.record.production_version is not None)

    def search(self, query: CatalogueQuery) -> CataloguePage:
        after = query.validate()
        with self.lock:
            self.up()
            found = []
            for key in sorted(self.versions):
                record = self.view(self.versions[key])
                if (after is None or key > after) and matches(record, query):
                    found.append(record)
                    if len(found) > query.limit:
                        break
        page = found[: query.limit]
        more = len(found) > query.limit
        cursor = encode_cursor(page[-1].series_id, page[-1].version) if more else None
        return CataloguePage(page, cursor)

    # -- the production pointer ----------------------------------------------------------

    @atomic
    def set_production(self, series_id: str, version: int, *, by: Writer) -> PointerMove:
        state = self.series.get(series_id)
        if state is None:
            raise model_not_found(series_id)
        series = state.record
        check_move(series_id, series.holder, by)
        entry = self.entry(series_id, version)
        if entry.record.status != ACTIVE:
            raise version_archived(series_id, version)
        holder = by.holder if by.holds else series.holder
        if (series.production_version, series.holder) != (version, holder):
            if series.production_version != version:
                entry.activated = next(self.order)
            self.update_series(series_id, production_version=version, holder=holder)
            self.changed(series_id)
            self.write_audit(
                audit_entries.pointer_moved(series_id, version, series.production_version, by)
            )
        return PointerMove(self.view(entry), series.production_version)

    @atomic
    def release_pointer(self, series_id: str, *, by: Writer) -> bool:
        state = self.series.get(series_id)
        if state is None or state.record.holder != by.holder:
            return False
        self.update_series(series_id, holder=None)
        self.changed(series_id)
        self.write_audit(audit_entries.released(series_id, by))
        return True

    # -- retention and restore -------------------------------------------------------------

    @atomic
    def set_keep_versions(self, series_id: str, keep: int) -> None:
        if series_id in self.series:
            self.update_series(series_id, keep_versions=keep)

    @atomic
    def retention_candidates(self, series_id: str, default_keep: int) -> list[VersionRecord]:
        state = self.series.get(series_id)
        if state is None:
            return []
        keep = state.record.keep_versions or default_keep
        active = [e for e in self.of_series(series_id) if e.record.status == ACTIVE]
        active.sort(key=lambda e: (e.activated, e.record.version), reverse=True)
        production = state.record.production_version
        beyond = [
            e
            for e in active[keep:]
            if e.record.version != production
            and not self.in_active_rollout(series_id, e.record.version)
        ]
        return sorted((self.view(e) for e in beyond), key=lambda r: r.version)

    @atomic
    def mark_archived(self, series_id: str, version: int, archive_prefix: str) -> bool:
        state = self.series.get(series_id)
        entry = self.versions.get((series_id, version))
        if state is None or entry is None or entry.record.status != ACTIVE:
            return False
        if state.record.production_version == version or self.in_active_rollout(series_id, version):
            return False
        entry.record = dataclasses.replace(
            entry.record,
            status=ARCHIVED,
            archived_at=datetime.now(UTC),
            artifact_prefix=archive_prefix,
        )
        self.changed(series_id)
        self.write_audit(audit_entries.archived(series_id, version))
        return True

    @atomic
    def mark_active(self, series_id: str, version: int, prefix: str, *, archived_at: str) -> bool:
        entry = self.versions.get((series_id, version))
        if entry is None or entry.record.status != ARCHIVED:
            return False
        if entry.record.artifact_prefix != archived_at:
            return False
        entry.record = dataclasses.replace(
            entry.record, status=ACTIVE, archived_at=None, artifact_prefix=prefix
        )
        entry.activated = next(self.order)
        self.changed(series_id)
        self.write_audit(audit_entries.restored(series_id, version))
        return True

    # -- state back-fill (sigmawatch.registry.state_protocol) ------------------------------

    @atomic
    def versions_without_state(
        self, kinds: Sequence[str], after: tuple[str, int] | None, limit: int
    ) -> list[VersionRecord]:
        keys = sorted(
            key
            for key, entry in self.versions.items()
            if entry.record.state is None
            and entry.record.status == ACTIVE
            and entry.record.detector.kind in kinds
            and (after is None or key > after)
        )
        return [self.view(self.versions[key]) for key in keys[:limit]]

    @atomic
    def fill_state(self, series_id: str, version: int, state: Mapping[str, float]) -> bool:
        entry = self.entry(series_id, version)
        if entry.record.state is not None:
            return False
        entry.record = dataclasses.replace(entry.record, state=dict(state))
        self.changed(series_id)
        return True

    @contextmanager
    def series_lock(self, series_id: str) -> Iterator[None]:
        with self.lock:
            self.up()
            lock = self.series_locks.setdefault(series_id, threading.Lock())
        if not lock.acquire(timeout=self.series_lock_wait_s):
            raise series_busy(series_id)
        try:
            yield
        finally:
            lock.release()
