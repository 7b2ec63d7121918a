"""The registry's tables in and out of PostgreSQL, for backups and restores (DUR-3).

Out: one REPEATABLE READ READ ONLY transaction sees every table at the same
instant; each table leaves through `COPY ... TO STDOUT` in PostgreSQL's text
format (portable across server versions and machines). Tables are found in
the catalogue, not listed here, so a table a later migration adds is backed
up without a change to this module.

In: the backup's schema is recreated by the numbered migrations, then every
table is loaded with `COPY ... FROM STDIN` in one transaction (all or
nothing), parents before children, with the tables' own triggers off so rows
come back exactly as they were, and sequences are set to their saved values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from graphlib import TopologicalSorter
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from sigmawatch.registry.postgres import schema
from sigmawatch.registry.postgres.connection import limits, translated

MIGRATIONS_TABLE = "schema_migrations"
# A snapshot of a large fleet takes longer than a request may.
SNAPSHOT_LIMITS = {**limits(), "options": "-c statement_timeout=0 -c lock_timeout=60000"}

_TABLES = """
SELECT c.relname FROM pg_class c
WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
ORDER BY c.relname"""
_COLUMNS = """
SELECT attname FROM pg_attribute
WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
ORDER BY attnum"""
_FOREIGN_KEYS = """
SELECT child.relname, parent.relname FROM pg_constraint k
JOIN pg_class child ON child.oid = k.conrelid
JOIN pg_class parent ON parent.oid = k.confrelid
WHERE k.contype = 'f' AND k.connamespace = current_schema()::regnamespace"""
_SEQUENCES = """
SELECT c.relname FROM pg_class c
WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'S'
ORDER BY c.relname"""
_FUNCTIONS = """
SELECT p.oid::regprocedure::text FROM pg_proc p
WHERE p.pronamespace = current_schema()::regnamespace AND p.prokind IN ('f', 'p')
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')"""

type Conn = psycopg.Connection[tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    columns: tuple[str, ...]


def _connect(url: str) -> Conn:
    """Autocommit: each step opens the transaction it needs, with `conn.transaction()`."""
    with translated("connect"):
        return psycopg.connect(url, autocommit=True, row_factory=tuple_row, **SNAPSHOT_LIMITS)


def _identifiers(names: Iterable[str]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(name) for name in names)


def _column(conn: Conn, query: str, params: tuple[Any, ...] = ()) -> list[Any]:
    return [row[0] for row in conn.execute(query, params).fetchall()]


def registry_tables(conn: Conn) -> list[Table]:
    """Every table but the migrations' own, parents before the tables that refer to them."""
    names = [n for n in _column(conn, _TABLES) if n != MIGRATIONS_TABLE]
    graph: dict[str, set[str]] = {name: set() for name in names}
    for child, parent in conn.execute(_FOREIGN_KEYS).fetchall():
        if child in graph and parent in graph and child != parent:
            graph[child].add(parent)
    ordered = list(TopologicalSorter(graph).static_order())
    return [Table(n, tuple(_column(conn, _COLUMNS, (_quoted(n),)))) for n in ordered]


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def applied_migrations(conn: Conn) -> list[tuple[int, str]]:
    exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (MIGRATIONS_TABLE,)).fetchone()
    if not exists or not exists[0]:
        return []
    rows = conn.execute(f"SELECT number, name FROM {MIGRATIONS_TABLE} ORDER BY number")
    return [(int(number), str(name)) for number, name in rows.fetchall()]


class Snapshot:
    """What one consistent read of the registry sees; see `snapshot()`."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    def server_version(self) -> str:
        row = self.conn.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else ""

    def migrations(self) -> list[tuple[int, str]]:
        return applied_migrations(self.conn)

    def tables(self) -> list[Table]:
        return registry_tables(self.conn)

    def sequences(self) -> dict[str, tuple[int, bool]]:
        found = {}
        for name in _column(self.conn, _SEQUENCES):
            query = sql.SQL("SELECT last_value, is_called FROM {}").format(sql.Identifier(name))
            row = self.conn.execute(query).fetchone()
            if row:
                found[name] = (int(row[0]), bool(row[1]))
        return found

    def copy_out(self, table: Table, sink: Callable[[bytes], None]) -> int:
        """Stream the table in COPY text format into `sink`; returns its row count."""
        query = sql.SQL("COPY {} ({}) TO STDOUT").format(
            sql.Identifier(table.name), _identifiers(table.columns)
        )
        cursor = self.conn.cursor()
        with cursor.copy(query) as copy:
            for chunk in copy:
                sink(bytes(chunk))
        return cursor.rowcount

    def versions(self) -> list[tuple[str, int, str, str]]:
        """(series_id, version, artifact_prefix, manifest_sha256) of every version, any status."""
        query = (
            "SELECT series_id, version, artifact_prefix, manifest_sha256"
            " FROM model_versions ORDER BY series_id, version"
        )
        return [(str(s), int(v), str(p), str(h)) for s, v, p, h in self.conn.execute(query)]


@contextmanager
def snapshot(url: str) -> Iterator[Snapshot]:
    """One REPEATABLE READ READ ONLY transaction: every table as of the same instant."""
    conn = _connect(url)
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    try:
        with translated("backup snapshot"), conn.transaction():
            yield Snapshot(conn)
    finally:
        conn.close()


# -- restore ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """The database a restore would write into."""

    migrations: list[tuple[int, str]]
    tables_with_rows: list[str]


def inspect_target(url: str) -> Target:
    with _connect(url) as conn, translated("restore target check"):
        with_rows = []
        for table in registry_tables(conn):
            query = sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(table.name))
            row = conn.execute(query).fetchone()
            if row and row[0]:
                with_rows.append(table.name)
        return Target(applied_migrations(conn), with_rows)


def drop_registry(url: str) -> None:
    """Drop every table, sequence and function of the registry's schema (a forced restore)."""
    with _connect(url) as conn, translated("restore drop"), conn.transaction():
        tables = _column(conn, _TABLES)
        if tables:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(_identifiers(tables)))
        sequences = _column(conn, _SEQUENCES)
        if sequences:
            conn.execute(sql.SQL("DROP SEQUENCE IF EXISTS {}").format(_identifiers(sequences)))
        for function in _column(conn, _FUNCTIONS):
            conn.execute(sql.SQL("DROP FUNCTION IF EXISTS {} CASCADE").format(sql.SQL(function)))


def tables(url: str) -> list[Table]:
    with _connect(url) as conn, translated("restore target tables"):
        return registry_tables(conn)


def migrate_to(url: str, number: int) -> list[tuple[int, str]]:
    """Apply the migrations up to `number`; returns what the database then has."""
    with _connect(url) as conn, translated("restore migrate"):
        schema.migrate(conn, up_to=number)
        return applied_migrations(conn)


type Chunks = Callable[[Table], Iterable[bytes]]


def load(
    url: str,
    tables: list[Table],
    chunks: Chunks,
    sequences: dict[str, tuple[int, bool]],
    *,
    check_rows: Callable[[Table, int], None],
) -> None:
    """Load every table (`chunks(table)` yields its COPY text) in one transaction.

    `check_rows` sees each table's loaded row count and may raise: the whole
    load is then rolled back, and the database is as empty as before."""
    with _connect(url) as conn, translated("restore load"), conn.transaction():
        present = {table.name for table in registry_tables(conn)}
        for table in tables:
            if table.name not in present:
                continue  # refused before: restore.py compares the table lists
            name = sql.Identifier(table.name)
            conn.execute(sql.SQL("ALTER TABLE {} DISABLE TRIGGER USER").format(name))
            query = sql.SQL("COPY {} ({}) FROM STDIN").format(name, _identifiers(table.columns))
            cursor = conn.cursor()
            with cursor.copy(query) as copy:
                for chunk in chunks(table):
                    copy.write(chunk)
            check_rows(table, cursor.rowcount)
            conn.execute(sql.SQL("ALTER TABLE {} ENABLE TRIGGER USER").format(name))
        for sequence, (last_value, is_called) in sequences.items():
            conn.execute(
                "SELECT setval(%s::regclass, %s, %s)", (_quoted(sequence), last_value, is_called)
            )
