"""`PostgresRegistry`: the `Registry` protocol over a psycopg connection pool.

Each method borrows a pooled connection (`Pooled`) and delegates to the
module of its concern; rollouts, statistics and labels are in `RolloutMethods`,
API keys and the audit log in `AccessMethods`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime

from sigmawatch.errors import SigmawatchError
from sigmawatch.registry.catalogue import CatalogueQuery
from sigmawatch.registry.pointer import Writer
from sigmawatch.registry.postgres import (
    _sql,
    catalogue,
    locks,
    pointers,
    retention,
    runs,
    state_fill,
    usage,
    versions,
)
from sigmawatch.registry.postgres.access_methods import AccessMethods
from sigmawatch.registry.postgres.health_methods import HealthMethods
from sigmawatch.registry.postgres.rollout_methods import RolloutMethods
from sigmawatch.registry.protocol import ChangeFeed
from sigmawatch.registry.records import (
    CataloguePage,
    CentreScaleColumns,
    NewVersion,
    PointerMove,
    PointerState,
    Registration,
    RunSummary,
    SeriesRecord,
    VersionRecord,
)


class PostgresRegistry(HealthMethods, RolloutMethods, AccessMethods):
    # -- versions ---------------------------------------------------------------------

    def register(self, new: NewVersion, *, promote: bool) -> Registration:
        with self._write("register") as conn:
            return versions.register(conn, new, promote=promote)

    def versions_without_state(
        self, kinds: Sequence[str], after: tuple[str, int] | None, limit: int
    ) -> list[VersionRecord]:
        with self._read("versions_without_state") as conn:
            return state_fill.without_state(conn, kinds, after, limit)

    def fill_state(self, series_id: str, version: int, state: Mapping[str, float]) -> bool:
        with self._write("fill_state") as conn:
            return state_fill.fill(conn, series_id, version, state)

    def get_version(self, series_id: str, version: int) -> VersionRecord:
        with self._read("get_version") as conn:
            return versions.get(conn, series_id, version)

    def get_production(self, series_id: str) -> VersionRecord:
        with self._read("get_production") as conn:
            return versions.production(conn, series_id)

    def get_series(self, series_id: str) -> SeriesRecord | None:
        with self._read("get_series") as conn:
            return versions.series(conn, series_id)

    def list_versions(self, series_id: str) -> list[VersionRecord]:
        with self._read("list_versions") as conn:
            return versions.listing(conn, series_id)

    def find_by_data(self, series_id: str, data_hash: str, spec_hash: str) -> VersionRecord | None:
        with self._read("find_by_data") as conn:
            return versions.by_data(conn, series_id, data_hash, spec_hash)

    def count_served(self, *, ids: list[str] | None = None, prefix: str | None = None) -> int:
        with self._read("count_served") as conn:
            return versions.count_served(conn, ids=ids, prefix=prefix)

    def search(self, query: CatalogueQuery) -> CataloguePage:
        with self._lagging_read("search") as conn:
            return catalogue.search(conn, query)

    # -- the production pointer ------------------------------------------------------------

    def set_production(self, series_id: str, version: int, *, by: Writer) -> PointerMove:
        with self._write("set_production") as conn:
            return pointers.set_production(conn, series_id, version, by)

    def release_pointer(self, series_id: str, *, by: Writer) -> bool:
        with self._write("release_pointer") as conn:
            return pointers.release(conn, series_id, by)

    # -- retention and restore ---------------------------------------------------------------

    def set_keep_versions(self, series_id: str, keep: int) -> None:
        with self._read("set_keep_versions") as conn:
            conn.execute(_sql.SET_KEEP, (keep, series_id))

    def retention_candidates(self, series_id: str, default_keep: int) -> list[VersionRecord]:
        with self._read("retention_candidates") as conn:
            return retention.candidates(conn, series_id, default_keep)

    def mark_archived(self, series_id: str, version: int, archive_prefix: str) -> bool:
        with self._write("mark_archived") as conn:
            return retention.mark_archived(conn, series_id, version, archive_prefix)

    def mark_active(self, series_id: str, version: int, prefix: str, *, archived_at: str) -> bool:
        with self._write("mark_active") as conn:
            return retention.mark_active(conn, series_id, version, prefix, archived_at)

    def series_lock(self, series_id: str) -> AbstractContextManager[None]:
        return locks.series_lock(self.url, series_id, wait_ms=self.series_lock_wait_ms)

    # -- usage and change tracking ----------------------------------------------------------------

    def record_usage(self, counts: Mapping[str, int], at: datetime | None = None) -> None:
        with self._read("record_usage") as conn:
            usage.record(conn, counts, at)

    def most_used(self, limit: int) -> list[VersionRecord]:
        with self._read("most_used") as conn:
            return versions.most_used(conn, limit)

    def centre_scale_states(
        self,
        kinds: Sequence[tuple[str, str, str]],
        limit: int,
        *,
        series_ids: Sequence[str] | None = None,
        chunk: int = 50_000,
        ordered: bool = True,
    ) -> Iterator[CentreScaleColumns]:
        with self._read("centre_scale_states") as conn:
            yield from versions.centre_scale_states(conn, kinds, limit, series_ids, chunk, ordered)

    def served_footprint(self) -> tuple[int, int]:
        with self._read("served_footprint") as conn:
            return versions.served_footprint(conn)

    def clock(self) -> datetime:
        with self._read("clock") as conn:
            return usage.clock(conn)

    def changed_since(self, since: datetime) -> tuple[dict[str, PointerState], datetime]:
        with self._write("changed_since") as conn:
            return usage.changed_since(conn, since)

    def listen(self) -> AbstractContextManager[ChangeFeed]:
        return locks.listen(self.url)

    # -- training runs ----------------------------------------------------------------------------

    def record_result(
        self,
        run_id: str,
        series_id: str,
        outcome: str,
        *,
        version: int | None = None,
        error: SigmawatchError | None = None,
    ) -> None:
        with self._write("record_result") as conn:
            runs.record(conn, run_id, series_id, outcome, version, error)

    def run_summary(self, run_id: str) -> RunSummary:
        with self._read("run_summary") as conn:
            return runs.summary(conn, run_id)

    def prune_results(self, older_than_days: int) -> int:
        with self._read("prune_results") as conn:
            return runs.prune(conn, older_than_days)
