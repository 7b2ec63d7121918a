"""In-memory caches of the serving path (PERF-5, CONS-1).

`ModelCache` holds loaded versions, LRU-bounded by entries and estimated
bytes with an optional TTL, and production pointers. Versions are
immutable, so entries only go stale when a series changes (new version,
rollback, archive): `drop_series` then removes the series' pointer and
every cached version of it.

A reader of the registry takes a `token()` first and hands it back when it
caches what it read; the answer is kept only if *that series* was not
invalidated meanwhile, so a notification racing a read can never leave a
stale pointer or an archived version cached for good, and one series'
invalidation never discards another's reads.

Background threads (LISTEN/NOTIFY, periodic refresh, model loads) and the
event loop share the cache, so every method takes one short lock.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from sigmawatch.loading import LoadedModel

# Production pointers are ~100 bytes each; this bound covers a large fleet.
MAX_POINTERS = 1_000_000
# Invalidations remembered per series; older ones collapse into one floor.
MAX_REMEMBERED_DROPS = 100_000
# The cache's own bookkeeping per model (entry, key, LRU links), on top of the model.
ENTRY_OVERHEAD_BYTES = 400

type Key = tuple[str, int]


@dataclass(slots=True)
class _Entry:
    model: LoadedModel
    expires: float | None
    nbytes: int


class ModelCache:
    def __init__(self, max_entries: int, max_bytes: int, ttl_s: float | None = None) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.ttl_s = ttl_s
        self._models: OrderedDict[Key, _Entry] = OrderedDict()
        # series → production version; None caches "no model" until the series changes.
        self._pointers: OrderedDict[str, int | None] = OrderedDict()
        self._versions: dict[str, set[int]] = {}  # cached versions per series
        self._bytes = 0
        self._lock = threading.Lock()
        self._clock = 0  # counts invalidations
        self._dropped: OrderedDict[str, int] = OrderedDict()  # series → its last invalidation
        self._floor = 0  # every read older than this is stale (forgotten or global drops)

    # -- read tokens ------------------------------------------------------------

    def token(self) -> int:
        """Take before reading the registry; pass to `set_pointer` / `put` after."""
        with self._lock:
            return self._clock

    def _stale(self, series_id: str, token: int) -> bool:
        return token < self._floor or self._dropped.get(series_id, 0) > token

    # -- production pointers ------------------------------------------------------

    def pointer(self, series_id: str) -> tuple[bool, int | None]:
        """(known, version): known is False when the registry must be asked."""
        with self._lock:
            if series_id in self._pointers:
                self._pointers.move_to_end(series_id)
                return True, self._pointers[series_id]
            return False, None

    def set_pointer(self, series_id: str, version: int | None, *, token: int) -> None:
        with self._lock:
            if self._stale(series_id, token):
                return
            self._pointers[series_id] = version
            self._pointers.move_to_end(series_id)
            while len(self._pointers) > MAX_POINTERS:
                self._pointers.popitem(last=False)

    # -- models ---------------------------------------------------------------------

    def get(self, key: Key) -> LoadedModel | None:
        with self._lock:
            entry = self._models.get(key)
            if entry is None:
                return None
            if entry.expires is not None and entry.expires < time.monotonic():
                self._remove(key)
                return None
            self._models.move_to_end(key)
            return entry.model

    def put(self, model: LoadedModel, *, token: int, ttl_s: float | None = None) -> bool:
        """Cache a model read with `token`; `ttl_s` overrides the cache TTL (e.g. short for
        fallbacks). False when its series changed since the read: not cached."""
        key = (model.series_id, model.version)
        ttl = ttl_s or self.ttl_s
        expires = time.monotonic() + ttl if ttl else None
        nbytes = model.nbytes + ENTRY_OVERHEAD_BYTES
        with self._lock:
            if self._stale(model.series_id, token):
                return False
            if key in self._models:
                self._remove(key)
            self._models[key] = _Entry(model, expires, nbytes)
            self._versions.setdefault(model.series_id, set()).add(model.version)
            self._bytes += nbytes
            while self._models and (
                len(self._models) > self.max_entries or self._bytes > self.max_bytes
            ):
                self._remove(next(iter(self._models)))
            return True

    def _remove(self, key: Key) -> None:
        entry = self._models.pop(key)
        self._bytes -= entry.nbytes
        versions = self._versions[key[0]]
        versions.discard(key[1])
        if not versions:
            del self._versions[key[0]]

    # -- invalidation -------------------------------------------------------------------

    def drop_series(self, series_id: str) -> None:
        with self._lock:
            self._clock += 1
            self._dropped[series_id] = self._clock
            self._dropped.move_to_end(series_id)
            while len(self._dropped) > MAX_REMEMBERED_DROPS:
                _, forgotten = self._dropped.popitem(last=False)
                self._floor = max(self._floor, forgotten)
            self._pointers.pop(series_id, None)
            for version in list(self._versions.get(series_id, ())):
                self._remove((series_id, version))

    def drop_pointers(self) -> None:
        """Forget every production pointer (after missed notifications)."""
        with self._lock:
            self._clock += 1
            self._floor = self._clock
            self._dropped.clear()
            self._pointers.clear()

    @property
    def invalidations(self) -> int:
        """How many invalidations this cache has seen (grows with every registry change)."""
        return self._clock

    @property
    def size(self) -> int:
        return len(self._models)

    @property
    def nbytes(self) -> int:
        return self._bytes
