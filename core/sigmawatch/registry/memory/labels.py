"""`MemoryRegistry`'s per-(series, version) statistics and ground-truth labels."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np

from sigmawatch.arrays import BoolArray, FloatArray, IntArray
from sigmawatch.registry import audit_entries
from sigmawatch.registry.memory.base import atomic
from sigmawatch.registry.memory.health import Health
from sigmawatch.registry.memory.tracking import Tracking
from sigmawatch.registry.rollout_records import Feedback, StatsRow, TrackRow
from sigmawatch.rollouts.window import VersionWindow


def _window(row: StatsRow) -> VersionWindow:
    return VersionWindow(
        row.predictions,
        row.anomalies,
        row.errors,
        row.fallbacks,
        row.latency,
        row.shadow_compared,
        row.shadow_agreed,
    )


class StatsAndLabels(Health, Tracking):
    @atomic
    def record_stats(self, rows: Sequence[StatsRow]) -> None:
        for row in rows:
            key = (row.series_id, row.version, row.bucket)
            old = self.stats.get(key)
            if old is None:
                self.stats[key] = row
                continue
            merged = _window(old) + _window(row)
            self.stats[key] = StatsRow(
                row.series_id,
                row.version,
                row.bucket,
                merged.predictions,
                merged.anomalies,
                merged.errors,
                merged.fallbacks,
                merged.latency,
                merged.shadow_compared,
                merged.shadow_agreed,
                row.bucket_end,
            )

    @atomic
    def version_window(
        self, series_id: str, version: int, since: datetime, until: datetime | None = None
    ) -> VersionWindow:
        out = VersionWindow()
        for (s, v, _), row in self.stats.items():
            if (
                (s, v) == (series_id, version)
                and row.ends > since
                and (until is None or row.bucket < until)
            ):
                out = out + _window(row)
        return out

    @atomic
    def rollout_windows(
        self, rollout_id: int, *, stable_since: datetime, candidate_since: datetime
    ) -> tuple[VersionWindow, VersionWindow]:
        members = self.stored_rollout(rollout_id).members
        stable = candidate = VersionWindow()
        for (series_id, version, _), row in self.stats.items():
            member = members.get(series_id)
            if member is None:
                continue
            if version == member.stable and row.ends > stable_since:
                stable = stable + _window(row)
            if version == member.candidate and row.ends > candidate_since:
                candidate = candidate + _window(row)
        return stable, candidate

    @atomic
    def record_feedback(
        self, series_id: str, timestamps: IntArray, values: FloatArray, labels: BoolArray
    ) -> int:
        stored = self.labels.setdefault(series_id, {})
        now = datetime.now(UTC)
        replaced = 0
        for ts, value, label in zip(
            timestamps.tolist(), values.tolist(), labels.tolist(), strict=True
        ):
            replaced += ts in stored
            stored[ts] = (value, label, now)
        self.write_audit(audit_entries.labels_stored(series_id, len(labels), replaced))
        return replaced

    @atomic
    def feedback(
        self, series_ids: Sequence[str], since: datetime | None = None
    ) -> dict[str, Feedback]:
        found = {}
        for series_id in series_ids:
            points = sorted(
                (ts, value, label)
                for ts, (value, label, at) in self.labels.get(series_id, {}).items()
                if since is None or at >= since
            )
            if points:
                ts, values, labels = zip(*points, strict=True)
                found[series_id] = Feedback(
                    np.asarray(ts, dtype=np.int64),
                    np.asarray(values, dtype=np.float64),
                    np.asarray(labels, dtype=np.bool_),
                )
        return found

    @atomic
    def record_track_stats(self, rows: Sequence[TrackRow]) -> None:
        for row in rows:
            key = (row.track, row.bucket)
            old = self.tracks.get(key)
            if old is not None:
                latency = tuple(a + b for a, b in zip(old.latency, row.latency, strict=True))
                row = TrackRow(
                    row.track,
                    row.bucket,
                    row.bucket_end,
                    old.requests + row.requests,
                    old.errors + row.errors,
                    latency,
                )
            self.tracks[key] = row

    @atomic
    def track_windows(
        self, *, stable_since: datetime, candidate_since: datetime
    ) -> tuple[VersionWindow, VersionWindow]:
        sides = {"stable": VersionWindow(), "candidate": VersionWindow()}
        since = {"stable": stable_since, "candidate": candidate_since}
        for (track, _), row in self.tracks.items():
            if track in sides and row.bucket_end > since[track]:
                counted = VersionWindow(
                    predictions=row.requests, errors=row.errors, latency=row.latency
                )
                sides[track] = sides[track] + counted
        return sides["stable"], sides["candidate"]

    @atomic
    def prune_stats(self, older_than_days: int) -> int:
        cutoff = datetime.now(UTC) - timedelta(days=older_than_days)
        old = [key for key in self.stats if key[2] < cutoff]
        for key in old:
            del self.stats[key]
        tracks = [key for key in self.tracks if key[1] < cutoff]
        for track_key in tracks:
            del self.tracks[track_key]
        return len(old) + len(tracks)
