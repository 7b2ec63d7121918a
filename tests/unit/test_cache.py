"""The model cache (PERF-5, CONS-1): LRU by entries and bytes, TTL, invalidation."""

from __future__ import annotations

import time

from sigmawatch.detectors import zscore_fallback
from sigmawatch.loading import LoadedModel
from sigmawatch_inference.cache import ModelCache


def model(series_id: str, version: int = 1, nbytes: int = 100) -> LoadedModel:
    z = zscore_fallback(0.0, 1.0)
    return LoadedModel(series_id, version, "zscore", z, z, (1, 2), nbytes=nbytes)


def test_least_recently_used_entry_goes_first() -> None:
    cache = ModelCache(max_entries=2, max_bytes=10_000)
    cache.put(model("a"))
    cache.put(model("b"))
    assert cache.get(("a", 1)) is not None  # a is now the most recent
    cache.put(model("c"))
    assert cache.get(("b", 1)) is None
    assert cache.get(("a", 1)) is not None
    assert cache.get(("c", 1)) is not None


def test_bytes_bound_evicts_until_under_the_limit() -> None:
    cache = ModelCache(max_entries=100, max_bytes=250)
    for name in "abc":
        cache.put(model(name, nbytes=100))
    assert cache.size == 2
    assert cache.nbytes == 200
    assert cache.get(("a", 1)) is None


def test_ttl_expires_entries() -> None:
    cache = ModelCache(max_entries=10, max_bytes=10_000, ttl_s=0.05)
    cache.put(model("a"))
    assert cache.get(("a", 1)) is not None
    time.sleep(0.08)
    assert cache.get(("a", 1)) is None
    assert cache.size == 0


def test_drop_series_removes_its_versions_and_pointer_only() -> None:
    cache = ModelCache(max_entries=10, max_bytes=10_000)
    for version in (1, 2):
        cache.put(model("a", version))
    cache.put(model("b"))
    cache.set_pointer("a", 2, generation=cache.generation)
    cache.set_pointer("b", 1, generation=cache.generation)
    cache.drop_series("a")
    assert cache.pointer("a") == (False, None)
    assert cache.get(("a", 1)) is None
    assert cache.get(("a", 2)) is None
    assert cache.pointer("b") == (True, 1)
    assert cache.get(("b", 1)) is not None


def test_a_pointer_read_before_an_invalidation_is_not_cached() -> None:
    cache = ModelCache(max_entries=10, max_bytes=10_000)
    generation = cache.generation  # a request starts reading the registry ...
    cache.drop_series("a")  # ... a new version's notification arrives ...
    cache.set_pointer("a", 1, generation=generation)  # ... the stale answer is dropped
    assert cache.pointer("a") == (False, None)


def test_negative_answers_are_cached_until_the_series_changes() -> None:
    cache = ModelCache(max_entries=10, max_bytes=10_000)
    cache.set_pointer("ghost", None, generation=cache.generation)
    assert cache.pointer("ghost") == (True, None)
    cache.drop_series("ghost")
    assert cache.pointer("ghost") == (False, None)
