"""`sigmawatch backup` and `sigmawatch restore` (DUR-3): parse, call core, print JSON.

    sigmawatch backup [--store URL] [--prune-older-than 30d]
    sigmawatch backup --list [--store URL]
    sigmawatch restore BACKUP_ID|latest [--store URL] [--force] [--artifacts hash|exists|skip]

Backups go to `backups/` in the artifact store unless `--store` names another
(file:// or s3://, e.g. a bucket in another region). `backup` exits 3 when it
was written but found artifacts missing or damaged (the JSON names them).
"""

from __future__ import annotations

import argparse
from typing import Any

from sigmawatch.artifacts import ArtifactStore, open_store, store_for
from sigmawatch.backups import Check, list_backups, prune, restore_backup, take_backup
from sigmawatch.durations import parse_duration
from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.logs import configure_logging
from sigmawatch.registry.postgres import database_url
from sigmawatch.settings import StorageSettings, load_settings
from sigmawatch.training_job import Exit

LATEST = "latest"


def add_commands(commands: Any, printer: Any) -> None:
    """`printer(document)` writes one JSON document to stdout (cli.py's)."""
    p = commands.add_parser("backup", help="snapshot the registry into the object store")
    p.add_argument("--store", help="where backups go: file:// or s3:// (default: artifact store)")
    p.add_argument("--list", action="store_true", help="list the backups; take none")
    p.add_argument(
        "--prune-older-than",
        metavar="AGE",
        help="after the backup, delete those older than AGE (30d); the newest is always kept",
    )
    p.set_defaults(run=lambda args: backup(args, printer))

    p = commands.add_parser("restore", help="load a backup into an empty registry database")
    p.add_argument("backup_id", help="an id from `sigmawatch backup --list`, or latest")
    p.add_argument("--store", help="where the backup is (default: the artifact store)")
    p.add_argument(
        "--force", action="store_true", help="drop the registry tables of a non-empty database"
    )
    p.add_argument(
        "--artifacts",
        choices=[c.value for c in Check],
        default=Check.HASH.value,
        help="check the artifacts the backup lists: read and hash them (default), "
        "only ask that they exist, or skip the check",
    )
    p.set_defaults(run=lambda args: restore(args, printer))


def _stores(args: argparse.Namespace, settings: StorageSettings) -> tuple[ArtifactStore, ...]:
    artifacts = store_for(settings)
    if not args.store:
        return artifacts, artifacts
    backups = open_store(
        args.store,
        s3_endpoint_url=settings.s3_endpoint_url,
        s3_region=settings.s3_region,
        timeout_s=max(settings.storage_timeout_s, 30.0),
    )
    return backups, artifacts


def _age(text: str) -> float:
    try:
        return float(parse_duration(text))
    except ValueError as exc:
        message = str(exc)
        raise SigmawatchError(
            ErrorCode.INVALID_REQUEST, message, option="--prune-older-than"
        ) from None


def backup(args: argparse.Namespace, printer: Any) -> int:
    settings = load_settings(StorageSettings)
    configure_logging(settings, "sigmawatch-cli")
    backups, artifacts = _stores(args, settings)
    if args.list:
        printer({"backups": [b.to_dict() for b in list_backups(backups, unfinished=True)]})
        return Exit.OK
    older_than = _age(args.prune_older_than) if args.prune_older_than else None
    report = take_backup(database_url(settings), backups, artifacts)
    document = report.to_dict()
    if older_than is not None:
        document["pruned"] = prune(backups, older_than)
    printer(document)
    return Exit.SERIES_FAILED if report.missing or report.corrupt else Exit.OK


def restore(args: argparse.Namespace, printer: Any) -> int:
    settings = load_settings(StorageSettings)
    configure_logging(settings, "sigmawatch-cli")
    backups, artifacts = _stores(args, settings)
    backup_id = args.backup_id
    if backup_id == LATEST:
        finished = [b for b in list_backups(backups) if b.finished]
        if not finished:
            raise SigmawatchError(
                ErrorCode.BACKUP_NOT_FOUND, f"no finished backup in {backups.url}backups/"
            )
        backup_id = finished[-1].backup_id
    report = restore_backup(
        backup_id,
        database_url(settings),
        backups,
        artifacts,
        force=args.force,
        check=Check(args.artifacts),
    )
    printer(report.to_dict())
    return Exit.OK
