"""Back-filling fitted states into version rows (issue 10).

A serving process keeps a parametric model resident from its row's
`state` (migration 0010). Rows of kinds other than z-score written before
that migration have none, so those versions are served from their
artifacts until retrained; `sigmawatch backfill-state` copies each one's
state from its verified artifact manifest into the row instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from sigmawatch.registry.records import VersionRecord


class StateBackfill(Protocol):
    def versions_without_state(
        self, kinds: Sequence[str], after: tuple[str, int] | None, limit: int
    ) -> list[VersionRecord]:
        """Active versions of `kinds` whose row has no state, in (series, version) order,
        after `after` (exclusive), at most `limit`."""
        ...

    def fill_state(self, series_id: str, version: int, state: Mapping[str, float]) -> bool:
        """Store a version's state if its row has none (False: it had one, nothing
        changed). Serving processes see the series as changed and load the row."""
        ...
