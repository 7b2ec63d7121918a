"""Numbered SQL migrations, applied at start-up.

Files `sql/NNNN_name.sql` run in order, each in its own transaction, and are
recorded in `schema_migrations`. An advisory lock serialises concurrent
starters (several pods, several workers) so each file runs exactly once.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg
from psycopg.rows import tuple_row

log = logging.getLogger(__name__)

_LOCK_ID = 0x5167_6D61  # arbitrary, constant: "Sgma"
_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")


@dataclass(frozen=True, slots=True)
class Migration:
    number: int
    name: str
    sql: str


def available() -> list[Migration]:
    found = []
    for entry in resources.files("sigmawatch.registry.postgres").joinpath("sql").iterdir():
        match = _NAME.fullmatch(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.number)
    numbers = [m.number for m in found]
    if numbers != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n without gaps, found {numbers}")
    return found


def migrate(conn: psycopg.Connection[Any], up_to: int | None = None) -> list[int]:
    """Apply pending migrations (those numbered up to `up_to` only, when given: a
    restore recreates a backup's schema); returns the numbers applied now."""
    applied_now: list[int] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " number integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        cursor = conn.cursor(row_factory=tuple_row)
        done = {row[0] for row in cursor.execute("SELECT number FROM schema_migrations")}
        for migration in available():
            if migration.number in done or (up_to is not None and migration.number > up_to):
                continue
            with conn.transaction():
                conn.execute(migration.sql.encode())
                conn.execute(
                    "INSERT INTO schema_migrations (number, name) VALUES (%s, %s)",
                    (migration.number, migration.name),
                )
            applied_now.append(migration.number)
            log.info("applied migration", extra={"migration": migration.number})
    return applied_now
