"""Version lifecycle beyond training: retention and restore (REG-6).

Archiving copies a version's artifact under `archive/`, flips the row, then
deletes the original; at every step the row points at a complete copy.
An archived version keeps its metadata and statistics, is listed and
searchable, but does not serve predictions (VERSION_ARCHIVED) until it is
restored, which moves the artifact back.
"""

from __future__ import annotations

import logging

from sigmawatch.artifacts import ArtifactStore, copy_prefix, delete_keys
from sigmawatch.artifacts.manifest import MANIFEST
from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.registry import ACTIVE, Registry, VersionRecord

log = logging.getLogger(__name__)

ARCHIVE_ROOT = "archive/"


def apply_retention(
    registry: Registry, store: ArtifactStore, series_id: str, default_keep: int
) -> list[VersionRecord]:
    """Archive the active versions beyond the series' keep (its own, else `default_keep`),
    least recently used first; production always stays (docs/decisions/0011)."""
    if not registry.retention_candidates(series_id, default_keep):
        return []  # the common case: no lock, no extra connection
    archived = []
    with registry.series_lock(series_id):
        # Read again under the lock: a concurrent pass may have done the work.
        for record in registry.retention_candidates(series_id, default_keep):
            target = ARCHIVE_ROOT + record.artifact_prefix
            copied = copy_prefix(store, record.artifact_prefix, target)
            if registry.mark_archived(series_id, record.version, target):
                delete_keys(store, copied)
                archived.append(record)
                log.info("archived version", extra={"series_id": series_id, "version": record.name})
            else:  # it became production meanwhile: the row still points at the original
                delete_keys(store, store.list(target))
    return archived


def restore_version(
    registry: Registry, store: ArtifactStore, series_id: str, version: int
) -> VersionRecord:
    """Bring an archived version back to active (idempotent)."""
    with registry.series_lock(series_id):
        record = registry.get_version(series_id, version)
        if record.status == ACTIVE:
            return record
        if not store.exists(record.artifact_prefix + MANIFEST):
            raise SigmawatchError(
                ErrorCode.ARTIFACT_CORRUPT,
                f"the archived artifact of {record.name} is missing; it cannot be restored",
                series_id=series_id,
                version=record.name,
            )
        target = record.artifact_prefix.removeprefix(ARCHIVE_ROOT)
        copied = copy_prefix(store, record.artifact_prefix, target)
        registry.mark_active(series_id, version, target, archived_at=record.artifact_prefix)
        delete_keys(store, copied)
        return registry.get_version(series_id, version)
