"""Registry contract, retention and restore (REG-6, docs/decisions/0011): memory and PostgreSQL."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from sigmawatch.artifacts import FileStore
from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.lifecycle import restore_version
from sigmawatch.registry import API, Registry
from sigmawatch.settings import TrainingSettings
from sigmawatch.training import TrainResult
from support.training import train


def statuses(registry: Registry, series: str) -> dict[str, str]:
    return {r.name: r.status for r in registry.list_versions(series)}


def archived(registry: Registry, series: str) -> list[str]:
    return [name for name, status in statuses(registry, series).items() if status == "archived"]


def test_retention_archives_beyond_ten_and_keeps_metadata(
    any_registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    names = []
    for seed in range(12):
        names += train(any_registry, file_store, settings, "ret", seed).archived
    assert names == ["v1", "v2"]
    records = {r.name: r for r in any_registry.list_versions("ret")}
    assert archived(any_registry, "ret") == ["v1", "v2"]
    assert records["v1"].stats["n_points"] == 10_000  # metadata kept
    assert records["v1"].artifact_prefix.startswith("archive/")
    assert file_store.exists(records["v1"].artifact_prefix + "manifest.json")
    assert not file_store.list(records["v1"].artifact_prefix.removeprefix("archive/"))
    with pytest.raises(SigmawatchError) as caught:
        any_registry.set_production("ret", 1, by=API)
    assert caught.value.code is ErrorCode.VERSION_ARCHIVED


def test_production_version_is_never_archived(
    any_registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    for seed in range(3):
        train(any_registry, file_store, settings, "pinned", seed)
    any_registry.set_production("pinned", 1, by=API)
    for seed in range(3, 13):
        train(any_registry, file_store, settings, "pinned", seed, promote=False)
    assert statuses(any_registry, "pinned")["v1"] == "active"
    assert any_registry.get_production("pinned").name == "v1"
    assert archived(any_registry, "pinned") == ["v2", "v3"]


def test_restore_brings_an_archived_version_back(
    any_registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    for seed in range(11):
        train(any_registry, file_store, settings, "back", seed)
    record = restore_version(any_registry, file_store, "back", 1)
    assert record.status == "active"
    assert not record.artifact_prefix.startswith("archive/")
    assert file_store.exists(record.artifact_prefix + "manifest.json")
    assert not file_store.list("archive/" + record.artifact_prefix)
    assert any_registry.set_production("back", 1, by=API).record.is_production


def test_a_restored_version_survives_the_next_training(
    any_registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    """Retention ranks versions by when they were last created, restored or made
    production, not by number: what a user just restored stays."""
    for seed in range(11):
        train(any_registry, file_store, settings, "again", seed)
    restore_version(any_registry, file_store, "again", 1)
    assert train(any_registry, file_store, settings, "again", 11).archived == ["v2", "v3"]
    assert statuses(any_registry, "again")["v1"] == "active"


def test_retraining_with_an_archived_versions_data_restores_and_promotes_it(
    any_registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    for seed in range(11):
        train(any_registry, file_store, settings, "revive", seed)
    assert statuses(any_registry, "revive")["v1"] == "archived"
    again = train(any_registry, file_store, settings, "revive", 0, promote=True)
    assert (again.created, again.record.name) == (False, "v1")
    assert again.record.status == "active"
    assert again.record.is_production
    assert any_registry.get_production("revive").name == "v1"
    assert file_store.exists(again.record.artifact_prefix + "manifest.json")


def test_a_series_keeps_its_models_retention_whoever_trains_it(
    any_registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    """An AnomalyModel's keepVersions is recorded for its series; an API training
    (which passes none) applies it too, instead of the global default."""
    for seed in range(4):
        train(any_registry, file_store, settings, "mixed", seed, keep_versions=3)
    assert archived(any_registry, "mixed") == ["v1"]
    train(any_registry, file_store, settings, "mixed", 4)  # the API's way: no keep given
    assert archived(any_registry, "mixed") == ["v1", "v2"]
    any_registry.set_keep_versions("mixed", 2)
    assert [r.name for r in any_registry.retention_candidates("mixed", 10)] == ["v3"]


def test_concurrent_retention_never_loses_an_artifact(
    any_registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    tight = settings.model_copy(update={"retention_versions": 2})
    barrier = threading.Barrier(6)

    def go(seed: int) -> TrainResult:
        barrier.wait()
        return train(any_registry, file_store, tight, "crowd", seed)

    for round_ in range(3):
        with ThreadPoolExecutor(6) as pool:
            list(pool.map(go, range(round_ * 6, round_ * 6 + 6)))
    records = any_registry.list_versions("crowd")
    assert len(records) == 18
    assert sum(r.status == "active" for r in records) == 2
    # Every version, archived or not, still has its artifact where its row says.
    for record in records:
        assert file_store.exists(record.artifact_prefix + "manifest.json"), record.name
    restored = restore_version(any_registry, file_store, "crowd", 1)
    assert file_store.exists(restored.artifact_prefix + "manifest.json")


def test_restoring_a_version_whose_archive_vanished_is_refused(
    any_registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    for seed in range(11):
        train(any_registry, file_store, settings, "vanished", seed)
    record = any_registry.get_version("vanished", 1)
    for key in file_store.list(record.artifact_prefix):
        file_store.delete(key)
    with pytest.raises(SigmawatchError) as caught:
        restore_version(any_registry, file_store, "vanished", 1)
    assert caught.value.code is ErrorCode.ARTIFACT_CORRUPT
    assert any_registry.get_version("vanished", 1).status == "archived"


def test_a_busy_series_lock_answers_within_a_bounded_wait(any_registry: Registry) -> None:
    holding = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with any_registry.series_lock("busy"):
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)
        started = time.monotonic()
        with pytest.raises(SigmawatchError) as caught, any_registry.series_lock("busy"):
            pass
        assert caught.value.code is ErrorCode.STORAGE_UNAVAILABLE
        assert time.monotonic() - started < 5
        with any_registry.series_lock("other"):  # other series are not held up
            pass
    finally:
        release.set()
        holder.join(10)
