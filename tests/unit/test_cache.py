"""The model cache (PERF-5, CONS-1): LRU by entries and bytes, TTL, per-series invalidation."""

from __future__ import annotations

import time

import pytest

from sigmawatch.detectors import zscore_fallback
from sigmawatch.loading import LoadedModel
from sigmawatch_inference import cache as cache_module
from sigmawatch_inference.cache import ENTRY_OVERHEAD_BYTES, ModelCache


def model(series_id: str, version: int = 1, nbytes: int = 100) -> LoadedModel:
    z = zscore_fallback(0.0, 1.0)
    return LoadedModel(series_id, version, "zscore", z, z, (1, 2), nbytes=nbytes)


def put(cache: ModelCache, entry: LoadedModel) -> bool:
    return cache.put(entry, token=cache.token())


def test_least_recently_used_entry_goes_first() -> None:
    cache = ModelCache(max_entries=2, max_bytes=10_000)
    put(cache, model("a"))
    put(cache, model("b"))
    assert cache.get(("a", 1)) is not None  # a is now the most recent
    put(cache, model("c"))
    assert cache.get(("b", 1)) is None
    assert cache.get(("a", 1)) is not None
    assert cache.get(("c", 1)) is not None


def test_bytes_bound_evicts_until_under_the_limit() -> None:
    entry = 100 + ENTRY_OVERHEAD_BYTES
    cache = ModelCache(max_entries=100, max_bytes=int(2.5 * entry))
    for name in "abc":
        put(cache, model(name, nbytes=100))
    assert cache.size == 2
    assert cache.nbytes == 2 * entry
    assert cache.get(("a", 1)) is None


def test_ttl_expires_entries() -> None:
    cache = ModelCache(max_entries=10, max_bytes=10_000, ttl_s=0.05)
    put(cache, model("a"))
    assert cache.get(("a", 1)) is not None
    time.sleep(0.08)
    assert cache.get(("a", 1)) is None
    assert cache.size == 0


def test_drop_series_removes_its_versions_and_pointer_only() -> None:
    cache = ModelCache(max_entries=10, max_bytes=10_000)
    for version in (1, 2):
        put(cache, model("a", version))
    put(cache, model("b"))
    cache.set_pointer("a", 2, token=cache.token())
    cache.set_pointer("b", 1, token=cache.token())
    cache.drop_series("a")
    assert cache.pointer("a") == (False, None)
    assert cache.get(("a", 1)) is None
    assert cache.get(("a", 2)) is None
    assert cache.pointer("b") == (True, 1)
    assert cache.get(("b", 1)) is not None


def test_a_read_started_before_its_series_changed_is_not_cached() -> None:
    cache = ModelCache(max_entries=10, max_bytes=10_000)
    token = cache.token()  # a request starts reading the registry ...
    cache.drop_series("a")  # ... a notification for its series arrives ...
    cache.set_pointer("a", 1, token=token)  # ... the stale answers are dropped
    assert not cache.put(model("a"), token=token)
    assert cache.pointer("a") == (False, None)
    assert cache.get(("a", 1)) is None
    fresh = cache.token()
    cache.set_pointer("a", 1, token=fresh)
    assert cache.pointer("a") == (True, 1)


def test_another_series_changing_does_not_discard_a_read() -> None:
    """A fleet retraining other series must not stop pointer caching for this one."""
    cache = ModelCache(max_entries=10, max_bytes=10_000)
    token = cache.token()
    for other in ("b", "c", "d"):
        cache.drop_series(other)
    cache.set_pointer("a", 1, token=token)
    assert cache.put(model("a"), token=token)
    assert cache.pointer("a") == (True, 1)
    assert cache.get(("a", 1)) is not None


def test_forgotten_invalidations_make_older_reads_stale_not_fresh(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cache_module, "MAX_REMEMBERED_DROPS", 2)
    cache = ModelCache(max_entries=10, max_bytes=10_000)
    token = cache.token()
    for series in ("a", "b", "c"):  # "a"'s drop is forgotten once "c"'s is remembered
        cache.drop_series(series)
    cache.set_pointer("a", 1, token=token)
    assert cache.pointer("a") == (False, None)


def test_forgetting_every_pointer_makes_every_earlier_read_stale() -> None:
    cache = ModelCache(max_entries=10, max_bytes=10_000)
    token = cache.token()
    cache.drop_pointers()
    cache.set_pointer("z", 3, token=token)
    assert cache.pointer("z") == (False, None)


def test_negative_answers_are_cached_until_the_series_changes() -> None:
    cache = ModelCache(max_entries=10, max_bytes=10_000)
    cache.set_pointer("ghost", None, token=cache.token())
    assert cache.pointer("ghost") == (True, None)
    cache.drop_series("ghost")
    assert cache.pointer("ghost") == (False, None)
