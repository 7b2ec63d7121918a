"""Registry contract, the state back-fill (issue 10): memory and PostgreSQL.

Versions written as before migration 0010 (no state in the row) are made
by training through a registry that drops the state on the way in; then
`backfill_states` must give each its artifact's numbers, so the resident
table's read sees them, and leave a damaged artifact's version alone.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sigmawatch.artifacts import FileStore
from sigmawatch.artifacts.manifest import read_manifest
from sigmawatch.registry import Registry
from sigmawatch.registry.records import NewVersion, Registration
from sigmawatch.settings import TrainingSettings
from sigmawatch.state_backfill import backfill_states
from support.training import train

ASKED = [("zscore", "mean", "std"), ("mad", "median", "scale")]


class Before0010:
    """The registry as a service before migration 0010 used it: no state in rows."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def register(self, new: NewVersion, *, promote: bool) -> Registration:
        return self._registry.register(dataclasses.replace(new, state=None), promote=promote)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._registry, name)


def resident_ids(registry: Registry) -> list[str]:
    return sorted(s for c in registry.centre_scale_states(ASKED, 100) for s in c.series_ids)


def test_versions_without_state_are_filled_from_their_artifacts(
    any_registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    old: Any = Before0010(any_registry)
    for i, series in enumerate(("old_a", "old_b", "old_c")):
        train(old, file_store, settings, series, i, detector={"kind": "mad"})
    train(any_registry, file_store, settings, "new_mad", 5, detector={"kind": "mad"})
    assert resident_ids(any_registry) == ["new_mad"]
    listed = any_registry.versions_without_state(["mad"], None, 10)
    assert [(r.series_id, r.version) for r in listed] == [("old_a", 1), ("old_b", 1), ("old_c", 1)]
    after = any_registry.versions_without_state(["mad"], ("old_a", 1), 1)
    assert [(r.series_id, r.version) for r in after] == [("old_b", 1)]
    assert any_registry.versions_without_state(["zscore"], None, 10) == []

    dry = backfill_states(any_registry, file_store, dry_run=True)
    assert (dry.filled, dry.failed) == (3, 0)
    assert resident_ids(any_registry) == ["new_mad"]  # a dry run changes nothing

    since = any_registry.clock()
    report = backfill_states(any_registry, file_store, page=2)  # pages carry on
    assert (report.filled, report.skipped, report.failed) == (3, 0, 0)
    assert resident_ids(any_registry) == ["new_mad", "old_a", "old_b", "old_c"]
    record = any_registry.get_version("old_b", 1)
    manifest = read_manifest(file_store, record.artifact_prefix, record.manifest_sha256)
    assert record.state == {k: manifest["state"][k] for k in ("median", "scale")}
    changed, _ = any_registry.changed_since(since)
    assert {"old_a", "old_b", "old_c"} <= set(changed)  # serving processes reload them
    assert any_registry.versions_without_state(["mad"], None, 10) == []
    assert backfill_states(any_registry, file_store).filled == 0
    assert not any_registry.fill_state("old_a", 1, {"median": 0.0, "scale": 1.0})
    assert any_registry.get_version("old_a", 1).state != {"median": 0.0, "scale": 1.0}


def test_a_damaged_artifact_is_reported_and_its_row_left_alone(
    any_registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    old: Any = Before0010(any_registry)
    broken = train(old, file_store, settings, "old_broken", 1, detector={"kind": "mad"})
    train(old, file_store, settings, "old_fine", 2, detector={"kind": "mad"})
    manifest = file_store.root / broken.record.artifact_prefix / "manifest.json"
    manifest.write_bytes(manifest.read_bytes().replace(b'"median"', b'"medion"'))
    report = backfill_states(any_registry, file_store)
    assert (report.filled, report.failed) == (1, 1)
    assert report.failures == [
        {
            "series_id": "old_broken",
            "version": "v1",
            "code": "ARTIFACT_CORRUPT",
            "message": report.failures[0]["message"],
        }
    ]
    assert "hash" in report.failures[0]["message"]  # caught by the hash, never parsed
    assert any_registry.get_version("old_broken", 1).state is None
    assert resident_ids(any_registry) == ["old_fine"]
