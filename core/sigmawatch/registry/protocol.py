"""The model registry as the apps see it: one method per operation they need.

Implementations: `sigmawatch.registry.postgres.PostgresRegistry` (production,
the only code that talks to the database driver) and
`sigmawatch.registry.memory.MemoryRegistry` (fast tests). One contract
suite (`tests/contract/`) runs against both.

Every failure a caller can see is a `SigmawatchError`: MODEL_NOT_FOUND,
INVALID_VERSION, VERSION_ARCHIVED and POINTER_HELD for the request, and
STORAGE_UNAVAILABLE (retryable) when the registry does not answer.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from sigmawatch.arrays import BoolArray, FloatArray, IntArray
from sigmawatch.errors import SigmawatchError
from sigmawatch.registry.access_protocol import AccessStore
from sigmawatch.registry.catalogue import CatalogueQuery
from sigmawatch.registry.health_protocol import HealthStore
from sigmawatch.registry.pointer import Writer
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
from sigmawatch.registry.rollout_records import (
    Feedback,
    NewRollout,
    RolloutMember,
    RolloutRecord,
    Route,
    StatsRow,
    TrackRow,
    Transition,
)
from sigmawatch.registry.state_protocol import StateBackfill
from sigmawatch.rollouts.policy import RolloutState
from sigmawatch.rollouts.window import VersionWindow


class ChangeFeed(Protocol):
    def changes(self, timeout: float) -> Iterator[str]:
        """What changed, as it arrives, for up to `timeout` seconds: a series id (its
        versions or pointer), `rollout:<id>` (a rollout's routing) or `apikeys:` (a key
        was revoked). STORAGE_UNAVAILABLE
        when the feed is lost (changes may have been missed: re-read what is cached)."""
        ...


class Registry(AccessStore, HealthStore, StateBackfill, Protocol):
    # -- health ------------------------------------------------------------------
    def ping(self) -> None: ...

    def close(self) -> None: ...

    # -- versions ----------------------------------------------------------------
    def register(self, new: NewVersion, *, promote: bool) -> Registration:
        """A new version, or the existing one with the same data and spec (CONS-2).

        The first version always becomes production; a later one when
        `promote` and the pointer is free (docs/decisions/0010)."""
        ...

    def get_version(self, series_id: str, version: int) -> VersionRecord: ...

    def get_production(self, series_id: str) -> VersionRecord: ...

    def get_series(self, series_id: str) -> SeriesRecord | None: ...

    def list_versions(self, series_id: str) -> list[VersionRecord]: ...

    def find_by_data(
        self, series_id: str, data_hash: str, spec_hash: str
    ) -> VersionRecord | None: ...

    def count_served(self, *, ids: list[str] | None = None, prefix: str | None = None) -> int:
        """How many of these series (an id list, or an id prefix) have a production version."""
        ...

    def search(self, query: CatalogueQuery) -> CataloguePage: ...

    # -- the production pointer ------------------------------------------------------
    def set_production(self, series_id: str, version: int, *, by: Writer) -> PointerMove:
        """Point production at an active version; a holding writer also takes the hold."""
        ...

    def release_pointer(self, series_id: str, *, by: Writer) -> bool:
        """Drop `by`'s hold (the pointer stays); False when it did not hold it."""
        ...

    # -- retention and restore (REG-6) -------------------------------------------------
    def set_keep_versions(self, series_id: str, keep: int) -> None:
        """Record the series' own retention (its AnomalyModel's keepVersions)."""
        ...

    def retention_candidates(self, series_id: str, default_keep: int) -> list[VersionRecord]:
        """Active versions beyond the series' keep (its own, else `default_keep`), least
        recently created, restored or made production first; never the production one."""
        ...

    def mark_archived(self, series_id: str, version: int, archive_prefix: str) -> bool:
        """Archive an active, non-production version; False if that no longer holds."""
        ...

    def mark_active(self, series_id: str, version: int, prefix: str, *, archived_at: str) -> bool:
        """Un-archive a version whose artifact now lives at `prefix`; False if it is
        not archived under `archived_at` any more."""
        ...

    def series_lock(self, series_id: str) -> AbstractContextManager[None]:
        """Serialise artifact moves (archive, restore) of one series across processes;
        STORAGE_UNAVAILABLE when it cannot be had within a bounded wait."""
        ...

    # -- usage and change tracking -------------------------------------------------------
    def record_usage(self, counts: Mapping[str, int], at: datetime | None = None) -> None:
        """Add prediction counts per series, made at `at` (default now); the warm-up
        ranks by them, decayed with age (MOD-7, sigmawatch.usage_rank)."""
        ...

    def most_used(self, limit: int) -> list[VersionRecord]:
        """Production versions of the most-used series, recent use weighing most."""
        ...

    def centre_scale_states(
        self,
        kinds: Sequence[tuple[str, str, str]],
        limit: int,
        *,
        series_ids: Sequence[str] | None = None,
        chunk: int = 50_000,
        ordered: bool = True,
    ) -> Iterator[CentreScaleColumns]:
        """Production versions of `kinds` — (kind, centre's state name, scale's) — whose
        only parameter is `threshold` and whose state has both numbers (of `series_ids`
        only, when given): most used first as `most_used`, at most `limit`, `chunk`
        rows at a time as they are read. Not `ordered`: every such row, in any order
        and chunks of about `chunk` (`limit`: about how many there are), for a
        reader that keeps them all; faster, as nothing is sorted."""
        ...

    def served_footprint(self) -> tuple[int, int]:
        """Series with a production version, and the characters of their ids in all:
        what decides whether every resident-able row fits a budget."""
        ...

    def clock(self) -> datetime:
        """The registry's current time: the watermark for `changed_since`."""
        ...

    def changed_since(self, since: datetime) -> tuple[dict[str, PointerState], datetime]:
        """Series changed after `since` (with a safety overlap), and the new watermark."""
        ...

    def listen(self) -> AbstractContextManager[ChangeFeed]: ...

    # -- training runs -------------------------------------------------------------------
    def record_result(
        self,
        run_id: str,
        series_id: str,
        outcome: str,
        *,
        version: int | None = None,
        error: SigmawatchError | None = None,
    ) -> None:
        """Upsert one series' outcome: a retried pod overwrites its earlier attempt."""
        ...

    def run_summary(self, run_id: str) -> RunSummary: ...

    def prune_results(self, older_than_days: int) -> int:
        """Drop outcomes of runs finished that many days ago; returns rows removed."""
        ...

    # -- rollouts --------------------------------------------------------------------------
    def resolve_members(
        self,
        *,
        series_ids: list[str] | None = None,
        prefix: str | None = None,
        candidate: int | None = None,
        run_id: str | None = None,
        spec_hash: str | None = None,
    ) -> list[RolloutMember]:
        """Series (listed, or by prefix) with production as stable and, as candidate,
        `candidate`, the version run `run_id` produced, or the newest active version
        with `spec_hash`; series whose candidate is missing or is production are left out."""
        ...

    def start_rollout(self, new: NewRollout) -> RolloutRecord:
        """Record the rollout and take every member's pointer (it must be free and at
        `stable`); ROLLOUT_IN_PROGRESS or POINTER_HELD otherwise, nothing taken."""
        ...

    def get_rollout(self, rollout_id: int) -> RolloutRecord: ...

    def series_rollout(self, series_id: str) -> RolloutRecord | None:
        """The series' active rollout, else its most recent one."""
        ...

    def driven_rollout(self, driver_ref: str) -> RolloutRecord | None:
        """The most recent rollout a ModelRollout started."""
        ...

    def active_rollouts(self) -> list[RolloutRecord]: ...

    def update_rollout(
        self,
        rollout_id: int,
        *,
        revision: int,
        state: RolloutState,
        reason: str,
        analysis: dict[str, object] | None = None,
    ) -> RolloutRecord | None:
        """Store the next state if the rollout is still at `revision` (None: another
        driver moved it first). A finished phase releases every member's pointer,
        moved to the candidate when promoted, left at stable otherwise."""
        ...

    def rollout_members(self, rollout_id: int) -> list[RolloutMember]: ...

    def transitions(self, rollout_id: int) -> list[Transition]: ...

    def routes(self, rollout_ids: Sequence[int] | None = None) -> list[Route]:
        """Routing of every member of the active rollouts (or of these ones)."""
        ...

    def route_revisions(self) -> dict[int, int]:
        """The active rollouts and their revisions: a cheap check for changed routing."""
        ...

    # -- statistics and labels -------------------------------------------------------------
    def record_stats(self, rows: Sequence[StatsRow]) -> None:
        """Add one pod's counts to the stored ones."""
        ...

    def version_window(
        self, series_id: str, version: int, since: datetime, until: datetime | None = None
    ) -> VersionWindow: ...

    def rollout_windows(
        self, rollout_id: int, *, stable_since: datetime, candidate_since: datetime
    ) -> tuple[VersionWindow, VersionWindow]:
        """Stable's and the candidate's counts summed over the members (labels not included)."""
        ...

    def record_feedback(
        self, series_id: str, timestamps: IntArray, values: FloatArray, labels: BoolArray
    ) -> int:
        """Store labeled points; returns how many replaced labels sent before."""
        ...

    def feedback(
        self, series_ids: Sequence[str], since: datetime | None = None
    ) -> dict[str, Feedback]:
        """Labeled points per series (received since `since`, when given)."""
        ...

    def record_track_stats(self, rows: Sequence[TrackRow]) -> None:
        """Add one pod's requests under its track to the stored ones."""
        ...

    def track_windows(
        self, *, stable_since: datetime, candidate_since: datetime
    ) -> tuple[VersionWindow, VersionWindow]:
        """The stable and candidate tracks' requests (as predictions), errors, latency."""
        ...

    def prune_stats(self, older_than_days: int) -> int: ...
