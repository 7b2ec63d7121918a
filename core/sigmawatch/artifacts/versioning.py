"""Is the object store keeping earlier versions of what is overwritten or deleted? (DUR-2)

With S3 versioning on, a model artifact or a backup file deleted or
overwritten by mistake (or by a bad janitor run) can be brought back; with it
off, the bucket's current objects are all there is. A service checks once at
start-up and says so in its log; a file:// store has no versions at all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from sigmawatch.artifacts.base import ArtifactStore
from sigmawatch.artifacts.file import FileStore
from sigmawatch.artifacts.guarded import GuardedStore
from sigmawatch.artifacts.s3 import FAILURES, S3Store

log = logging.getLogger(__name__)


class Versioning(StrEnum):
    ENABLED = "enabled"
    SUSPENDED = "suspended"  # was on once: old versions stay, new writes keep none
    OFF = "off"
    NOT_APPLICABLE = "not_applicable"  # file:// (use filesystem snapshots)
    UNKNOWN = "unknown"  # the store did not say (no permission, not implemented, down)


@dataclass(frozen=True, slots=True)
class VersioningCheck:
    state: Versioning
    store: str
    detail: str = ""


def check_versioning(store: ArtifactStore) -> VersioningCheck:
    inner = store.inner if isinstance(store, GuardedStore) else store
    if isinstance(inner, FileStore):
        return VersioningCheck(Versioning.NOT_APPLICABLE, store.url, "file:// keeps no versions")
    if not isinstance(inner, S3Store):
        return VersioningCheck(Versioning.UNKNOWN, store.url, type(inner).__name__)
    try:
        answer = inner.client.get_bucket_versioning(Bucket=inner.bucket)
    except FAILURES as exc:
        return VersioningCheck(Versioning.UNKNOWN, store.url, str(exc))
    status = answer.get("Status")
    if status == "Enabled":
        return VersioningCheck(Versioning.ENABLED, store.url)
    if status == "Suspended":
        return VersioningCheck(Versioning.SUSPENDED, store.url)
    return VersioningCheck(Versioning.OFF, store.url)


def log_versioning(store: ArtifactStore) -> VersioningCheck:
    """Check, and log the answer: a warning unless versioning is on (or cannot apply)."""
    result = check_versioning(store)
    fields = {"store": result.store, "versioning": result.state.value}
    if result.state is Versioning.ENABLED:
        log.info("object store versioning is on", extra=fields)
    elif result.state is Versioning.NOT_APPLICABLE:
        log.info("object store versioning does not apply to a file:// store", extra=fields)
    else:
        log.warning(
            "object store versioning is not on: a deleted or overwritten artifact cannot be "
            "recovered (DUR-2; docs/operations.md, Restore from backup)",
            extra=fields | {"detail": result.detail[:300]},
        )
    return result
