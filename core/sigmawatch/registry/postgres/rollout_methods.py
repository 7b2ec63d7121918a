"""`PostgresRegistry`'s rollouts, statistics and labels (the rest is in registry.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sigmawatch.arrays import BoolArray, FloatArray, IntArray
from sigmawatch.registry.postgres import _rollout_sql as sql
from sigmawatch.registry.postgres import rollouts, stats
from sigmawatch.registry.postgres.pooled import Pooled
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
from sigmawatch.rollouts.policy import RolloutState
from sigmawatch.rollouts.window import VersionWindow


class RolloutMethods(Pooled):
    # -- rollouts -----------------------------------------------------------------------

    def resolve_members(
        self,
        *,
        series_ids: list[str] | None = None,
        prefix: str | None = None,
        candidate: int | None = None,
        run_id: str | None = None,
        spec_hash: str | None = None,
    ) -> list[RolloutMember]:
        with self._read("resolve_members") as conn:
            return rollouts.resolve_members(
                conn,
                series_ids=series_ids,
                prefix=prefix,
                candidate=candidate,
                run_id=run_id,
                spec_hash=spec_hash,
            )

    def start_rollout(self, new: NewRollout) -> RolloutRecord:
        with self._write("start_rollout") as conn:
            rollout_id = rollouts.start(conn, new)
            return rollouts.get(conn, rollout_id)

    def get_rollout(self, rollout_id: int) -> RolloutRecord:
        with self._read("get_rollout") as conn:
            return rollouts.get(conn, rollout_id)

    def series_rollout(self, series_id: str) -> RolloutRecord | None:
        with self._read("series_rollout") as conn:
            row = conn.execute(sql.SERIES_ROLLOUT, (series_id,)).fetchone()
        return sql.rollout_from_row(row) if row else None

    def driven_rollout(self, driver_ref: str) -> RolloutRecord | None:
        with self._read("driven_rollout") as conn:
            row = conn.execute(sql.DRIVEN_ROLLOUT, (driver_ref,)).fetchone()
        return sql.rollout_from_row(row) if row else None

    def active_rollouts(self) -> list[RolloutRecord]:
        with self._read("active_rollouts") as conn:
            return [sql.rollout_from_row(row) for row in conn.execute(sql.ACTIVE_ROLLOUTS)]

    def update_rollout(
        self,
        rollout_id: int,
        *,
        revision: int,
        state: RolloutState,
        reason: str,
        analysis: dict[str, object] | None = None,
    ) -> RolloutRecord | None:
        with self._write("update_rollout") as conn:
            if not rollouts.update(conn, rollout_id, revision, state, reason, analysis):
                return None
            return rollouts.get(conn, rollout_id)

    def rollout_members(self, rollout_id: int) -> list[RolloutMember]:
        with self._read("rollout_members") as conn:
            return rollouts.members(conn, rollout_id)

    def transitions(self, rollout_id: int) -> list[Transition]:
        with self._read("transitions") as conn:
            return rollouts.transitions(conn, rollout_id)

    def routes(self, rollout_ids: Sequence[int] | None = None) -> list[Route]:
        with self._read("routes") as conn:
            return rollouts.routes(conn, rollout_ids)

    def route_revisions(self) -> dict[int, int]:
        with self._read("route_revisions") as conn:
            rows = conn.execute(sql.ROUTE_REVISIONS)
            return {r["rollout_id"]: r["revision"] for r in rows}

    # -- statistics and labels ------------------------------------------------------------

    def record_stats(self, rows: Sequence[StatsRow]) -> None:
        with self._write("record_stats") as conn:
            stats.record(conn, rows)

    def version_window(
        self, series_id: str, version: int, since: datetime, until: datetime | None = None
    ) -> VersionWindow:
        with self._lagging_read("version_window") as conn:
            return stats.version_window(conn, series_id, version, since, until)

    def rollout_windows(
        self, rollout_id: int, *, stable_since: datetime, candidate_since: datetime
    ) -> tuple[VersionWindow, VersionWindow]:
        with self._read("rollout_windows") as conn:
            return (
                stats.rollout_window(conn, rollout_id, "stable", stable_since),
                stats.rollout_window(conn, rollout_id, "candidate", candidate_since),
            )

    def record_feedback(
        self, series_id: str, timestamps: IntArray, values: FloatArray, labels: BoolArray
    ) -> int:
        with self._write("record_feedback") as conn:
            return stats.record_feedback(conn, series_id, timestamps, values, labels)

    def feedback(
        self, series_ids: Sequence[str], since: datetime | None = None
    ) -> dict[str, Feedback]:
        with self._read("feedback") as conn:
            return stats.feedback(conn, series_ids, since)

    def record_track_stats(self, rows: Sequence[TrackRow]) -> None:
        with self._write("record_track_stats") as conn:
            stats.record_tracks(conn, rows)

    def track_windows(
        self, *, stable_since: datetime, candidate_since: datetime
    ) -> tuple[VersionWindow, VersionWindow]:
        with self._read("track_windows") as conn:
            return (
                stats.track_window(conn, "stable", stable_since),
                stats.track_window(conn, "candidate", candidate_since),
            )

    def prune_stats(self, older_than_days: int) -> int:
        with self._read("prune_stats") as conn:
            return stats.prune(conn, older_than_days)
