"""API keys as a serving process checks them: looked up by hash, cached for seconds.

A key's record is cached for `SIGMAWATCH_API_KEY_CACHE_S` (unknown keys too,
so a bad key cannot make every request a query). A revoked key reaches every
pod through the registry's change feed at once and, if a notification is
lost, within the cache's lifetime anyway. Last use is collected here and
written with the usage counts.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sigmawatch.access import ApiKeyRecord

MAX_ENTRIES = 10_000  # past this the cache starts over: one query per key again


class KeyCache:
    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[str, tuple[ApiKeyRecord | None, float]] = {}
        self._used: dict[str, float] = {}
        # Bumped by every clear: a lookup that began before a revocation must not
        # put back what it read.
        self.generation = 0

    def get(self, key_hash: str) -> tuple[bool, ApiKeyRecord | None]:
        """(cached?, record): a cached None is a key the registry does not know."""
        found = self._entries.get(key_hash)
        if found is None or time.monotonic() - found[1] > self.ttl_s:
            return False, None
        return True, found[0]

    def put(self, key_hash: str, record: ApiKeyRecord | None, generation: int) -> None:
        if generation != self.generation:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[key_hash] = (record, time.monotonic())

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()

    def used(self, key_hash: str) -> None:
        self._used[key_hash] = time.time()

    def take_used(self) -> dict[str, datetime]:
        used, self._used = self._used, {}
        return {h: datetime.fromtimestamp(at, UTC) for h, at in used.items()}
