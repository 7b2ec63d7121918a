"""`sigmawatch janitor`: remove artifacts no registered version references."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from sigmawatch.artifacts import store_for
from sigmawatch.janitor import DEFAULT_GRACE_S, sweep
from sigmawatch.registry import Registry
from sigmawatch.settings import StorageSettings


def add_commands(commands: Any, run: Callable[[argparse.Namespace], int]) -> None:
    p = commands.add_parser(
        "janitor",
        help="remove orphan artifact prefixes and unfinished temporary files",
    )
    p.add_argument(
        "--grace-s",
        type=float,
        default=DEFAULT_GRACE_S,
        help="keep anything written more recently than this (a training may still register it)",
    )
    p.add_argument("--dry-run", action="store_true", help="report, remove nothing")
    p.set_defaults(run=run)


def janitor(
    args: argparse.Namespace, registry: Registry, settings: StorageSettings
) -> dict[str, Any]:
    report = sweep(registry, store_for(settings), grace_s=args.grace_s, dry_run=args.dry_run)
    return {"dry_run": args.dry_run, **report.to_dict()}
