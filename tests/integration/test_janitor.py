"""The janitor removes orphan artifacts and never a live one (DUR-2), on the real
registry and both stores."""

from __future__ import annotations

import time

import pytest

from sigmawatch.artifacts import ArtifactStore
from sigmawatch.artifacts.manifest import read_manifest
from sigmawatch.janitor import sweep
from sigmawatch.registry import Registry
from sigmawatch.settings import TrainingSettings
from support.training import train

HOUR = 3600.0


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest) -> ArtifactStore:
    fixture = "file_store" if request.param == "file" else "s3_store"
    result: ArtifactStore = request.getfixturevalue(fixture)
    return result


def _live_artifacts_load(registry: Registry, store: ArtifactStore, series: list[str]) -> int:
    loaded = 0
    for series_id in series:
        for record in registry.list_versions(series_id):
            read_manifest(store, record.artifact_prefix, record.manifest_sha256)
            loaded += 1
    return loaded


def test_orphans_go_after_the_grace_period_and_every_version_still_loads(
    registry: Registry, store: ArtifactStore, settings: TrainingSettings
) -> None:
    for seed in range(3):  # keep 2: v1 is archived under archive/
        train(registry, store, settings, "kept", seed, keep_versions=2)
    train(registry, store, settings, "other", 7)
    # What a process killed between the artifact write and the registration leaves:
    store.put("models/kept/0123456789abcdef0123-0123456789ab/manifest.json", b"{}")
    store.put("models/kept/0123456789abcdef0123-0123456789ab/arrays/x.npy", b"..")
    store.put("models/never_registered/aaaaaaaaaaaaaaaaaaaa-bbbbbbbbbbbb/manifest.json", b"{}")
    assert any(k.startswith("archive/models/kept/") for k in store.list("archive/"))

    young = sweep(registry, store, grace_s=HOUR)
    assert young.prefixes_removed == []
    assert young.prefixes_kept_young >= 6

    later = sweep(registry, store, grace_s=HOUR, now=time.time() + 2 * HOUR)
    assert sorted(later.prefixes_removed) == [
        "models/kept/0123456789abcdef0123-0123456789ab/",
        "models/never_registered/aaaaaaaaaaaaaaaaaaaa-bbbbbbbbbbbb/",
    ]
    assert later.keys_removed == 3
    assert store.list("models/never_registered/") == []
    assert _live_artifacts_load(registry, store, ["kept", "other"]) == 4

    again = sweep(registry, store, grace_s=HOUR, now=time.time() + 2 * HOUR)
    assert again.prefixes_removed == []


def test_a_dry_run_reports_and_removes_nothing(
    memory_registry: Registry, file_store: ArtifactStore
) -> None:
    file_store.put("models/ghost/aaaaaaaaaaaaaaaaaaaa-bbbbbbbbbbbb/manifest.json", b"{}")
    report = sweep(memory_registry, file_store, grace_s=0, now=time.time() + 1, dry_run=True)
    assert report.prefixes_removed == ["models/ghost/aaaaaaaaaaaaaaaaaaaa-bbbbbbbbbbbb/"]
    assert file_store.list("models/") != []
