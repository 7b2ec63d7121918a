"""Registry contract, change tracking: the feed and the periodic refresh (CONS-1)."""

from __future__ import annotations

from datetime import timedelta

from sigmawatch.artifacts import FileStore
from sigmawatch.registry import API, Registry
from sigmawatch.settings import TrainingSettings
from support.training import train


def test_the_feed_names_every_changed_series(
    any_registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    with any_registry.listen() as feed:
        train(any_registry, file_store, settings, "heard", 0)
        train(any_registry, file_store, settings, "heard", 1)
        any_registry.set_production("heard", 1, by=API)
        train(any_registry, file_store, settings, "other", 0)
        heard: list[str] = []
        for _ in range(20):
            heard += feed.changes(timeout=0.5)
            if len(heard) >= 4:
                break
    assert heard == ["heard", "heard", "heard", "other"]


def test_changes_since_a_watermark_include_new_pointers(
    any_registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    before = any_registry.clock()
    train(any_registry, file_store, settings, "moved", 0)
    changed, watermark = any_registry.changed_since(before)
    assert changed["moved"].production_version == 1
    assert watermark >= before
    later, _ = any_registry.changed_since(watermark + timedelta(hours=1))
    assert "moved" not in later
