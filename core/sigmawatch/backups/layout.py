"""Where a backup lives in the object store, how it is named, listed and pruned (DUR-3).

    backups/<id>/tables/<table>.<part>.copy.gz   COPY text of a table, gzip, split in parts
    backups/<id>/artifacts.json.gz               artifact keys the versions need, with sha256
    backups/<id>/manifest.json                   schema, tables, row counts, sha256 of each file
    backups/<id>/manifest.sha256                 sha256 of manifest.json

The manifest is written after every other file, so a backup without one is
unfinished (a crash, or one still running) and is never listed or restored.
Ids are UTC times, so they sort in the order the backups were taken.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from sigmawatch.artifacts import ArtifactNotFoundError, ArtifactStore
from sigmawatch.errors import ErrorCode, SigmawatchError

ROOT = "backups/"
FORMAT = "sigmawatch.backup/1"
MANIFEST = "manifest.json"
MANIFEST_HASH = "manifest.sha256"
ARTIFACTS = "artifacts.json.gz"
_ID_TIME = "%Y%m%dT%H%M%SZ"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def new_backup_id(now: float | None = None) -> str:
    moment = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    return f"{moment.strftime(_ID_TIME)}-{secrets.token_hex(3)}"


def backup_time(backup_id: str) -> float | None:
    """When a backup was started, from its id (None: not an id this code makes)."""
    try:
        return (
            datetime.strptime(backup_id.split("-", 1)[0], _ID_TIME).replace(tzinfo=UTC).timestamp()
        )
    except ValueError:
        return None


def folder(backup_id: str) -> str:
    if not backup_id or "/" in backup_id or backup_id.startswith("."):
        raise SigmawatchError(
            ErrorCode.BACKUP_NOT_FOUND, f"not a backup id: {backup_id!r}", backup_id=backup_id
        )
    return f"{ROOT}{backup_id}/"


def corrupt(backup_id: str, message: str, **details: Any) -> SigmawatchError:
    return SigmawatchError(
        ErrorCode.BACKUP_CORRUPT,
        f"backup {backup_id} is damaged: {message}",
        backup_id=backup_id,
        hint="restore an older backup (sigmawatch backup --list)",
        **details,
    )


def write_manifest(store: ArtifactStore, backup_id: str, manifest: dict[str, Any]) -> None:
    encoded = orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    store.put(folder(backup_id) + MANIFEST, encoded)
    store.put(folder(backup_id) + MANIFEST_HASH, sha256(encoded).encode())


def read_manifest(store: ArtifactStore, backup_id: str) -> dict[str, Any]:
    """A finished backup's manifest, checked; BACKUP_NOT_FOUND or BACKUP_CORRUPT otherwise."""
    base = folder(backup_id)
    try:
        encoded = store.get(base + MANIFEST)
    except ArtifactNotFoundError:
        raise SigmawatchError(
            ErrorCode.BACKUP_NOT_FOUND,
            f"no finished backup {backup_id!r} in {store.url}{ROOT}",
            backup_id=backup_id,
            hint="sigmawatch backup --list shows the backups there are",
        ) from None
    try:
        expected = store.get(base + MANIFEST_HASH).decode().strip()
    except ArtifactNotFoundError:
        raise corrupt(backup_id, "its manifest has no checksum file") from None
    if sha256(encoded) != expected:
        raise corrupt(backup_id, "the manifest does not match its checksum", file=MANIFEST)
    try:
        manifest: dict[str, Any] = orjson.loads(encoded)
    except orjson.JSONDecodeError:
        raise corrupt(backup_id, "the manifest is not JSON", file=MANIFEST) from None
    if manifest.get("format") != FORMAT:
        raise SigmawatchError(
            ErrorCode.BACKUP_INCOMPATIBLE,
            f"backup {backup_id} has format {manifest.get('format')!r}; "
            f"this version reads {FORMAT}",
            backup_id=backup_id,
        )
    return manifest


@dataclass(frozen=True, slots=True)
class BackupSummary:
    backup_id: str
    finished: bool
    created_at: float | None
    damaged: bool = False  # a manifest that fails its checksum or does not parse
    series: int | None = None
    versions: int | None = None
    bytes: int | None = None
    artifacts_missing: int | None = None

    def to_dict(self) -> dict[str, Any]:
        created = self.created_at
        return {
            "backup_id": self.backup_id,
            "finished": self.finished,
            "damaged": self.damaged,
            "created_at": datetime.fromtimestamp(created, UTC).isoformat() if created else None,
            "series": self.series,
            "versions": self.versions,
            "bytes": self.bytes,
            "artifacts_missing": self.artifacts_missing,
        }


def list_backups(store: ArtifactStore, *, unfinished: bool = False) -> list[BackupSummary]:
    """Finished backups, oldest first (and unfinished ones too when asked)."""
    ids = sorted({key[len(ROOT) :].split("/", 1)[0] for key in store.list(ROOT)})
    found = []
    for backup_id in ids:
        try:
            manifest = read_manifest(store, backup_id)
        except SigmawatchError as exc:
            damaged = exc.code is not ErrorCode.BACKUP_NOT_FOUND
            if damaged or unfinished:
                found.append(BackupSummary(backup_id, False, backup_time(backup_id), damaged))
            continue
        found.append(
            BackupSummary(
                backup_id,
                True,
                float(manifest["created_at"]),
                series=manifest["counts"]["series"],
                versions=manifest["counts"]["versions"],
                bytes=manifest["bytes"],
                artifacts_missing=len(manifest["artifacts"]["missing"]),
            )
        )
    return found


def prune(store: ArtifactStore, older_than_s: float, *, now: float | None = None) -> list[str]:
    """Delete the backups started more than `older_than_s` ago; returns their ids.

    The newest finished backup is always kept, however old, so a retention
    setting can never leave nothing to restore from."""
    cutoff = (time.time() if now is None else now) - older_than_s
    backups = list_backups(store, unfinished=True)
    finished = [b for b in backups if b.finished]
    keep = finished[-1].backup_id if finished else None
    removed = []
    for backup in backups:
        if backup.backup_id == keep or backup.created_at is None or backup.created_at >= cutoff:
            continue
        keys = store.list(folder(backup.backup_id))
        # The manifest goes first: a half-deleted backup is unfinished, never a broken one.
        for name in (MANIFEST, MANIFEST_HASH):
            store.delete(folder(backup.backup_id) + name)
        for key in keys:
            store.delete(key)
        removed.append(backup.backup_id)
    return removed
