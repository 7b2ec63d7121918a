"""Predictions per series since the last flush: warm-up ranks series by them (MOD-7)."""

from __future__ import annotations

import threading
from collections import Counter


class UsageCounter:
    """A dict add on the hot path; the housekeeper takes and writes the counts."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, series_id: str, n: int = 1) -> None:
        with self._lock:
            self._counts[series_id] += n

    def add_many(self, counts: dict[str, int]) -> None:
        with self._lock:
            self._counts.update(counts)

    def take(self) -> dict[str, int]:
        with self._lock:
            counts, self._counts = self._counts, Counter()
        return dict(counts)

    def give_back(self, counts: dict[str, int]) -> None:
        """Counts a failed flush could not write, for the next flush."""
        self.add_many(counts)
