"""`sigmawatch backfill-state`: give versions trained before migration 0010 their row state.

    sigmawatch backfill-state [--kind mad] [--dry-run]

Prints a JSON report (filled, skipped, failed and the first failures) and
exits 3 when some version's artifact could not give its state.
"""

from __future__ import annotations

import argparse
from typing import Any

from sigmawatch.artifacts import store_for
from sigmawatch.detectors import CENTRE_SCALE
from sigmawatch.logs import configure_logging
from sigmawatch.registry.postgres import open_registry
from sigmawatch.settings import StorageSettings, load_settings
from sigmawatch.state_backfill import backfill_states
from sigmawatch.training_job import Exit


def add_commands(commands: Any, printer: Any) -> None:
    """`printer(document)` writes one JSON document to stdout (cli.py's)."""
    p = commands.add_parser(
        "backfill-state",
        help="copy fitted states from artifacts into version rows, so pods keep them resident",
    )
    p.add_argument(
        "--kind",
        action="append",
        choices=sorted(CENTRE_SCALE),
        help="only this detector kind (repeatable; default: every resident kind)",
    )
    p.add_argument("--dry-run", action="store_true", help="report what would be filled")
    p.set_defaults(run=lambda args: backfill(args, printer))


def backfill(args: argparse.Namespace, printer: Any) -> int:
    settings = load_settings(StorageSettings)
    configure_logging(settings, "sigmawatch-cli")
    registry = open_registry(settings, min_size=1, max_size=2)
    try:
        report = backfill_states(
            registry, store_for(settings), kinds=args.kind, dry_run=args.dry_run
        )
    finally:
        registry.close()
    printer({"dry_run": args.dry_run, **report.to_dict()})
    return Exit.SERIES_FAILED if report.failed else Exit.OK
