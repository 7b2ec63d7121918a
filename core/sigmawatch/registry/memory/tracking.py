"""`MemoryRegistry`'s usage counts, change tracking and training-run outcomes."""

from __future__ import annotations

import math
import queue
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import numpy as np

from sigmawatch import usage_rank
from sigmawatch.errors import SigmawatchError
from sigmawatch.registry import audit_entries
from sigmawatch.registry.memory.base import MemoryFeed, MemoryState, Result, atomic
from sigmawatch.registry.records import (
    CentreScaleColumns,
    PointerState,
    RunSummary,
    VersionRecord,
    summarize_run,
)
from sigmawatch.stats import QUANTILES

REFRESH_OVERLAP = timedelta(seconds=60)


class Tracking(MemoryState):
    @atomic
    def record_usage(self, counts: Mapping[str, int], at: datetime | None = None) -> None:
        when = (at or datetime.now(UTC)).timestamp()
        for series_id, n in counts.items():
            state = self.series.get(series_id)
            if state is not None and n > 0:
                state.usage_rank = usage_rank.added(state.usage_rank, n, when)
                self.update_series(series_id, usage_count=state.record.usage_count + n)

    @atomic
    def most_used(self, limit: int) -> list[VersionRecord]:
        served = [s for s in self.series.values() if s.record.production_version]
        served.sort(key=lambda s: (-(s.usage_rank or -math.inf), s.record.series_id))
        return [
            self.view(self.entry(s.record.series_id, s.record.production_version or 0))
            for s in served[:limit]
        ]

    def centre_scale_states(
        self,
        kinds: Sequence[tuple[str, str, str]],
        limit: int,
        *,
        series_ids: Sequence[str] | None = None,
        chunk: int = 50_000,
        ordered: bool = True,  # most used first either way, which is one "any order"
    ) -> Iterator[CentreScaleColumns]:
        wanted = set(series_ids) if series_ids is not None else None
        positions = {kind: (i, centre, scale) for i, (kind, centre, scale) in enumerate(kinds)}
        rows = []
        for r in self.most_used(len(self.series)):
            known = positions.get(r.detector.kind)
            if (
                known is None
                or r.state is None
                or (wanted is not None and r.series_id not in wanted)
            ):
                continue
            position, centre, scale = known
            if set(r.detector.params) != {"threshold"} or not {centre, scale} <= set(r.state):
                continue
            rows.append(
                (
                    r.series_id,
                    r.version,
                    position,
                    r.detector.params["threshold"],
                    r.state[centre],
                    r.state[scale],
                    r.training_start,
                    r.training_end,
                    [float(r.stats.get(f"p{q}", math.nan)) for q in QUANTILES],
                )
            )
        rows = rows[:limit]
        dtypes = (np.int32, np.int32, np.float64, np.float64, np.float64, np.int64, np.int64)
        for start in range(0, len(rows), chunk):
            ids, *numbers, quantiles = zip(*rows[start : start + chunk], strict=True)
            v, k, t, c, s, begin, end = (
                np.array(c, dtype) for c, dtype in zip(numbers, dtypes, strict=True)
            )
            edges = np.array(quantiles, np.float64).reshape(-1, len(QUANTILES))
            yield CentreScaleColumns(list(ids), v, k, t, c, s, begin, end, edges)

    @atomic
    def clock(self) -> datetime:
        return datetime.now(UTC)

    @atomic
    def served_footprint(self) -> tuple[int, int]:
        served = [
            s for s, state in self.series.items() if state.record.production_version is not None
        ]
        return len(served), sum(map(len, served))

    @atomic
    def changed_since(self, since: datetime) -> tuple[dict[str, PointerState], datetime]:
        now = datetime.now(UTC)
        changed = {
            series_id: PointerState(state.record.production_version, state.updated_at)
            for series_id, state in self.series.items()
            if state.updated_at >= since - REFRESH_OVERLAP
        }
        return changed, now

    @contextmanager
    def listen(self) -> Iterator[MemoryFeed]:
        events: queue.Queue[str] = queue.Queue()
        with self.lock:
            self.up()
            self.feeds.append(events)
        try:
            yield MemoryFeed(events)
        finally:
            with self.lock:
                self.feeds.remove(events)

    @atomic
    def record_result(
        self,
        run_id: str,
        series_id: str,
        outcome: str,
        *,
        version: int | None = None,
        error: SigmawatchError | None = None,
    ) -> None:
        code = error.code.value if error else None
        message = error.message[:1000] if error else None
        self.results[(run_id, series_id)] = Result(outcome, version, code, message)
        if error is not None:
            self.write_audit(audit_entries.training_failed(run_id, series_id, error))

    @atomic
    def run_summary(self, run_id: str) -> RunSummary:
        mine = sorted((s, r) for (run, s), r in self.results.items() if run == run_id)
        tally: dict[tuple[str, str | None], int] = {}
        for _, result in mine:
            key = (result.outcome, result.code)
            tally[key] = tally.get(key, 0) + 1

        def example(code: str) -> tuple[str, str] | None:
            return next(((s, r.message or "") for s, r in mine if r.code == code), None)

        return summarize_run([(o, c, n) for (o, c), n in tally.items()], example)

    @atomic
    def prune_results(self, older_than_days: int) -> int:
        cutoff = datetime.now(UTC) - timedelta(days=older_than_days)
        old = [key for key, r in self.results.items() if r.finished_at < cutoff]
        for key in old:
            del self.results[key]
        return len(old)
