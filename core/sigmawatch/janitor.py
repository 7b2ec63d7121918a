"""The janitor: removes artifacts no registered version references.

Training writes a version's artifact before it registers the version
(docs/decisions/0002), so a process killed between the two leaves an
orphan prefix, and a write killed midway leaves a temporary file in a
file:// store. Neither is ever read, and nothing else removes them.

A prefix is removed only when no version of its series, active or
archived, names it, and its newest object is older than the grace period:
a training in progress has written its artifact but not registered it
yet, and must keep it. The registry is asked again just before the
delete, so a version registered meanwhile keeps its files.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field

from sigmawatch.artifacts import ArtifactStore, FileStore, GuardedStore
from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.lifecycle import ARCHIVE_ROOT
from sigmawatch.registry import Registry

log = logging.getLogger(__name__)

MODELS_ROOT = "models/"
DEFAULT_GRACE_S = 3600.0


@dataclass
class SweepReport:
    prefixes_removed: list[str] = field(default_factory=list)
    keys_removed: int = 0
    temp_files_removed: int = 0
    prefixes_kept_young: int = 0

    def to_dict(self) -> dict[str, object]:
        return {
            "prefixes_removed": self.prefixes_removed,
            "keys_removed": self.keys_removed,
            "temp_files_removed": self.temp_files_removed,
            "prefixes_kept_young": self.prefixes_kept_young,
        }


def _prefix_of(key: str) -> tuple[str, str] | None:
    """(series_id, prefix) of an artifact key: models/S/H/... or archive/models/S/H/..."""
    root = ARCHIVE_ROOT + MODELS_ROOT if key.startswith(ARCHIVE_ROOT) else MODELS_ROOT
    parts = key[len(root) :].split("/")
    if not key.startswith(root) or len(parts) < 3:
        return None
    return parts[0], f"{root}{parts[0]}/{parts[1]}/"


def _referenced(registry: Registry, series_id: str) -> set[str]:
    try:
        return {record.artifact_prefix for record in registry.list_versions(series_id)}
    except SigmawatchError as exc:
        if exc.code is ErrorCode.MODEL_NOT_FOUND:
            return set()
        raise


def sweep(
    registry: Registry,
    store: ArtifactStore,
    *,
    grace_s: float = DEFAULT_GRACE_S,
    now: float | None = None,
    dry_run: bool = False,
) -> SweepReport:
    now = time.time() if now is None else now
    cutoff = now - grace_s
    report = SweepReport()
    newest: dict[tuple[str, str], float] = defaultdict(float)
    keys: dict[str, list[str]] = defaultdict(list)
    for root in (MODELS_ROOT, ARCHIVE_ROOT + MODELS_ROOT):
        for key, modified in store.list_modified(root):
            found = _prefix_of(key)
            if found is None:
                continue
            newest[found] = max(newest[found], modified)
            keys[found[1]].append(key)
    by_series: dict[str, list[str]] = defaultdict(list)
    for (series_id, prefix), modified in newest.items():
        by_series[series_id].append(prefix)
        if modified >= cutoff:
            report.prefixes_kept_young += 1
    for series_id, prefixes in sorted(by_series.items()):
        old = [p for p in prefixes if newest[(series_id, p)] < cutoff]
        orphans = set(old) - _referenced(registry, series_id) if old else set()
        if orphans and not dry_run:
            orphans -= _referenced(registry, series_id)  # registered meanwhile: keep
        for prefix in sorted(orphans):
            report.prefixes_removed.append(prefix)
            report.keys_removed += len(keys[prefix])
            if not dry_run:
                for key in keys[prefix]:
                    store.delete(key)
    files = store.inner if isinstance(store, GuardedStore) else store
    if isinstance(files, FileStore) and not dry_run:
        report.temp_files_removed = files.remove_temp(cutoff)
    if report.prefixes_removed or report.temp_files_removed:
        log.info("janitor removed orphan artifacts", extra=report.to_dict())
    return report
