"""`sigmawatch restore <backup-id>`: bring a backup back into an empty database (DUR-3).

Order, so that a refusal changes nothing and a failure leaves an empty database:

1. the manifest is read and checked (BACKUP_NOT_FOUND, BACKUP_CORRUPT);
2. its schema must be a prefix of the migrations this code has (BACKUP_INCOMPATIBLE);
3. the artifacts it lists are checked in the object store (ARTIFACT_MISSING,
   ARTIFACT_CORRUPT), unless told to skip that;
4. a database with rows in any registry table is refused (RESTORE_TARGET_NOT_EMPTY)
   unless forced, which drops the registry's tables first;
5. the migrations run up to the backup's schema version, then every table is
   loaded in one transaction; a part whose sha256 or row count is not the
   manifest's rolls the whole load back (BACKUP_CORRUPT).

A newer service migrates the restored schema forward at its next start.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sigmawatch.artifacts import ArtifactNotFoundError, ArtifactStore
from sigmawatch.backups import artifacts, layout
from sigmawatch.backups.artifacts import Check
from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.registry.postgres import schema, snapshot
from sigmawatch.registry.postgres.snapshot import Table

log = logging.getLogger(__name__)

_GZIP = 16 + zlib.MAX_WBITS
_SLICE = 1024 * 1024
_SHOWN = 20  # keys named in an error; the counts say how many there are in all


@dataclass
class RestoreReport:
    backup_id: str
    schema_version: int
    rows: dict[str, int]
    artifacts_checked: int
    artifact_check: str
    dropped_existing: bool
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "backup_id": self.backup_id,
            "schema_version": self.schema_version,
            "rows": self.rows,
            "artifacts_checked": self.artifacts_checked,
            "artifact_check": self.artifact_check,
            "dropped_existing": self.dropped_existing,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }


def _incompatible(backup_id: str, message: str, **details: Any) -> SigmawatchError:
    return SigmawatchError(
        ErrorCode.BACKUP_INCOMPATIBLE,
        f"backup {backup_id}: {message}",
        backup_id=backup_id,
        **details,
    )


def _schema_version(backup_id: str, manifest: dict[str, Any]) -> list[tuple[int, str]]:
    wanted = [(int(m["number"]), str(m["name"])) for m in manifest["schema"]]
    known = [(m.number, m.name) for m in schema.available()]
    if not wanted or wanted != known[: len(wanted)]:
        raise _incompatible(
            backup_id,
            "its schema is not one this version of sigmawatch can create",
            backup_schema=wanted[-1][0] if wanted else None,
            known_schema=known[-1][0],
            hint="restore with the sigmawatch version that took the backup, or a newer one",
        )
    return wanted


def _check_artifacts(
    backup_id: str,
    manifest: dict[str, Any],
    backups: ArtifactStore,
    store: ArtifactStore,
    check: Check,
) -> int:
    entry = manifest["artifacts"]
    listing = _read_part(backups, backup_id, entry["file"], entry["sha256"])
    needed = artifacts.decode(listing)
    found = artifacts.verify(store, needed, check)
    if found.missing or found.corrupt:
        code = ErrorCode.ARTIFACT_MISSING if found.missing else ErrorCode.ARTIFACT_CORRUPT
        raise SigmawatchError(
            code,
            f"{len(found.missing)} artifact objects are missing and {len(found.corrupt)} differ "
            f"from the backup in {store.url}",
            backup_id=backup_id,
            missing=found.missing[:_SHOWN],
            corrupt=found.corrupt[:_SHOWN],
            missing_count=len(found.missing),
            corrupt_count=len(found.corrupt),
            hint="recover the objects (S3 keeps earlier versions when versioning is on), "
            "or restore anyway with --artifacts skip: those versions then answer from "
            "their z-score fallback",
        )
    return len(needed)


def _read_part(store: ArtifactStore, backup_id: str, name: str, digest: str) -> bytes:
    try:
        data = store.get(layout.folder(backup_id) + name)
    except ArtifactNotFoundError:
        raise layout.corrupt(backup_id, f"{name} is missing", file=name) from None
    if layout.sha256(data) != digest:
        raise layout.corrupt(backup_id, f"{name} does not match its sha256", file=name)
    return data


def _chunks(store: ArtifactStore, backup_id: str, table: dict[str, Any]) -> Iterator[bytes]:
    for part in table["parts"]:
        data = _read_part(store, backup_id, part["file"], part["sha256"])
        unzip = zlib.decompressobj(_GZIP)
        try:
            for at in range(0, len(data), _SLICE):
                yield unzip.decompress(data[at : at + _SLICE])
            yield unzip.flush()
        except zlib.error:
            raise layout.corrupt(backup_id, f"{part['file']} does not decompress") from None


def _prepare_target(
    backup_id: str, database_url: str, wanted: list[tuple[int, str]], *, force: bool
) -> bool:
    """Make the database ready for the load; True when existing tables were dropped."""
    target = snapshot.inspect_target(database_url)
    if target.tables_with_rows and not force:
        raise SigmawatchError(
            ErrorCode.RESTORE_TARGET_NOT_EMPTY,
            "the database already holds registry rows; restore into an empty database",
            tables=target.tables_with_rows,
            hint="create a new database and point SIGMAWATCH_DATABASE_URL at it, or pass "
            "--force to drop every registry table of this one first",
        )
    # An empty schema other than the backup's (a newer service migrated it) holds nothing.
    if target.tables_with_rows or target.migrations != wanted[: len(target.migrations)]:
        log.warning(
            "restore drops the registry tables of the target database",
            extra={"backup_id": backup_id, "tables_with_rows": target.tables_with_rows},
        )
        snapshot.drop_registry(database_url)
        return True
    return False


def restore_backup(
    backup_id: str,
    database_url: str,
    backup_store: ArtifactStore,
    artifact_store: ArtifactStore,
    *,
    force: bool = False,
    check: Check = Check.HASH,
) -> RestoreReport:
    clock = time.perf_counter()
    seconds: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = now - clock
        clock = now

    manifest = layout.read_manifest(backup_store, backup_id)
    wanted = _schema_version(backup_id, manifest)
    checked = _check_artifacts(backup_id, manifest, backup_store, artifact_store, check)
    lap("artifacts")
    dropped = _prepare_target(backup_id, database_url, wanted, force=force)
    applied = snapshot.migrate_to(database_url, wanted[-1][0])
    if applied != wanted:
        raise _incompatible(backup_id, "the database did not reach the backup's schema")
    present = {t.name: t.columns for t in snapshot.tables(database_url)}
    tables = [Table(t["name"], tuple(t["columns"])) for t in manifest["tables"]]
    for table in tables:
        if present.get(table.name) != table.columns:
            raise _incompatible(backup_id, f"table {table.name} differs from the schema's")
    lap("schema")
    by_name = {t["name"]: t for t in manifest["tables"]}

    def check_rows(table: Table, rows: int) -> None:
        expected = by_name[table.name]["rows"]
        if rows != expected:
            message = f"table {table.name} loaded {rows} rows, the manifest says {expected}"
            raise layout.corrupt(backup_id, message)

    sequences = {name: (int(v), bool(c)) for name, (v, c) in manifest["sequences"].items()}
    snapshot.load(
        database_url,
        tables,
        lambda table: _chunks(backup_store, backup_id, by_name[table.name]),
        sequences,
        check_rows=check_rows,
    )
    lap("load")
    report = RestoreReport(
        backup_id,
        wanted[-1][0],
        {t["name"]: t["rows"] for t in manifest["tables"]},
        checked,
        check.value,
        dropped,
        seconds | {"total": sum(seconds.values())},
    )
    log.info("backup restored", extra=report.to_dict())
    return report
