"""`sigmawatch backup`: a consistent snapshot of the registry into the object store (DUR-3).

Every table is read in one REPEATABLE READ READ ONLY transaction, so the
backup is one instant of the registry (a version and its audit entry, a
rollout and its members are never split), while training and serving go on.
Tables leave as gzip'd COPY text in parts of at most PART_BYTES (before
compression), so memory stays bounded whatever the fleet's size. Then the
artifact objects those versions need are listed and checked, and the
manifest is written last (layout.py).
"""

from __future__ import annotations

import logging
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sigmawatch.artifacts import ArtifactStore
from sigmawatch.backups import artifacts, layout
from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.registry.postgres.snapshot import Table, snapshot

log = logging.getLogger(__name__)

PART_BYTES = 64 * 1024 * 1024
_GZIP = 16 + zlib.MAX_WBITS


class _Parts:
    """A table's COPY stream, compressed and written in parts as it arrives."""

    def __init__(self, store: ArtifactStore, base: str, table: Table) -> None:
        self.store, self.base, self.table = store, base, table
        self.parts: list[dict[str, Any]] = []
        self._start()

    def _start(self) -> None:
        self._zip = zlib.compressobj(6, zlib.DEFLATED, _GZIP)
        self._chunks: list[bytes] = []
        self._raw = 0

    def write(self, data: bytes) -> None:
        self._chunks.append(self._zip.compress(data))
        self._raw += len(data)
        if self._raw >= PART_BYTES:
            self._flush()
            self._start()

    def _flush(self) -> None:
        data = b"".join(self._chunks) + self._zip.flush()
        name = f"tables/{self.table.name}.{len(self.parts):04d}.copy.gz"
        self.store.put(self.base + name, data)
        self.parts.append({"file": name, "sha256": layout.sha256(data), "bytes": len(data)})

    def close(self) -> list[dict[str, Any]]:
        if self._raw or not self.parts:
            self._flush()
        return self.parts


@dataclass(frozen=True, slots=True)
class BackupReport:
    backup_id: str
    manifest: dict[str, Any]
    seconds: float

    @property
    def missing(self) -> list[str]:
        found: list[str] = self.manifest["artifacts"]["missing"]
        return found

    @property
    def corrupt(self) -> list[str]:
        found: list[str] = self.manifest["artifacts"]["corrupt"]
        return found

    def to_dict(self) -> dict[str, Any]:
        return {
            "backup_id": self.backup_id,
            "location": self.manifest["location"],
            "seconds": round(self.seconds, 3),
            "schema_version": self.manifest["schema"][-1]["number"],
            "rows": {t["name"]: t["rows"] for t in self.manifest["tables"]},
            "bytes": self.manifest["bytes"],
            "artifacts": self.manifest["artifacts"]["count"],
            "artifacts_missing": self.missing,
            "artifacts_corrupt": self.corrupt,
        }


def take_backup(
    database_url: str,
    backup_store: ArtifactStore,
    artifact_store: ArtifactStore,
    *,
    backup_id: str | None = None,
    now: float | None = None,
) -> BackupReport:
    """Snapshot every registry table and list the artifacts its versions need.

    Missing or damaged artifacts do not stop the backup (the rows are still
    worth keeping); the report and the manifest name them."""
    started = time.perf_counter()
    created_at = time.time() if now is None else now
    backup_id = backup_id or layout.new_backup_id(created_at)
    base = layout.folder(backup_id)
    tables: list[dict[str, Any]] = []
    with snapshot(database_url) as snap:
        migrations = snap.migrations()
        if not migrations:
            raise SigmawatchError(
                ErrorCode.BACKUP_INCOMPATIBLE,
                "the database holds no sigmawatch registry (no migration was ever applied)",
                hint="check SIGMAWATCH_DATABASE_URL",
            )
        server_version = snap.server_version()
        for table in snap.tables():
            parts = _Parts(backup_store, base, table)
            rows = snap.copy_out(table, parts.write)
            tables.append(
                {"name": table.name, "columns": list(table.columns), "rows": rows}
                | {"parts": parts.close()}
            )
        sequences = snap.sequences()
        versions = snap.versions()
    found = artifacts.needed_by(artifact_store, versions)
    listing = artifacts.encode(found.needed)
    backup_store.put(base + layout.ARTIFACTS, listing)
    manifest = {
        "format": layout.FORMAT,
        "backup_id": backup_id,
        "kind": "full",
        "created_at": created_at,
        "created": datetime.fromtimestamp(created_at, UTC).isoformat(),
        "location": backup_store.url + base,
        "source": {"server_version": server_version, "artifacts": artifact_store.url},
        "schema": [{"number": number, "name": name} for number, name in migrations],
        "tables": tables,
        "sequences": {name: [value, called] for name, (value, called) in sequences.items()},
        "counts": {"series": len({v[0] for v in versions}), "versions": len(versions)},
        "artifacts": {
            "file": layout.ARTIFACTS,
            "sha256": layout.sha256(listing),
            "count": len(found.needed),
            "missing": found.missing,
            "corrupt": found.corrupt,
        },
        "bytes": len(listing) + sum(p["bytes"] for t in tables for p in t["parts"]),
    }
    layout.write_manifest(backup_store, backup_id, manifest)
    report = BackupReport(backup_id, manifest, time.perf_counter() - started)
    log.info(
        "backup written",
        extra={
            "backup_id": backup_id,
            "seconds": round(report.seconds, 3),
            "versions": len(versions),
            "artifacts_missing": len(found.missing),
            "artifacts_corrupt": len(found.corrupt),
        },
    )
    if found.missing or found.corrupt:
        log.warning(
            "backup found artifacts missing or damaged",
            extra={"backup_id": backup_id, "missing": found.missing[:20]},
        )
    return report
