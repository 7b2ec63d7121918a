"""The connection pool every part of `PostgresRegistry` borrows from."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sigmawatch.registry.postgres.connection import Conn, connect, make_pool, translated
from sigmawatch.registry.postgres.schema import migrate

# How long archiving or restoring waits for another process working on the same series.
SERIES_LOCK_WAIT_MS = 10_000


class Pooled:
    """Each operation borrows a pooled connection (a transaction where it writes);
    `translated` turns every driver failure into a domain error on the way out."""

    def __init__(
        self,
        url: str,
        *,
        min_size: int = 1,
        max_size: int = 8,
        series_lock_wait_ms: int = SERIES_LOCK_WAIT_MS,
    ) -> None:
        self.url = url
        self.series_lock_wait_ms = series_lock_wait_ms
        self._pool = make_pool(url, min_size=min_size, max_size=max_size)

    # -- connections -----------------------------------------------------------------

    @contextmanager
    def _read(self, what: str) -> Iterator[Conn]:
        with translated(what), self._pool.connection() as conn:
            yield conn

    @contextmanager
    def _write(self, what: str) -> Iterator[Conn]:
        with translated(what), self._pool.connection() as conn, conn.transaction():
            yield conn

    def open(self, *, timeout: float = 30.0) -> None:
        # One direct attempt first: a refused or silent server fails within the
        # connect timeout, instead of the pool retrying it for `timeout`.
        connect(self.url).close()
        with translated("open"):
            self._pool.open(wait=True, timeout=timeout)

    def migrate(self) -> list[int]:
        with self._read("migrate") as conn:
            return migrate(conn)

    def ping(self) -> None:
        with translated("ping"), self._pool.connection(timeout=2.0) as conn:
            conn.execute("SELECT 1")

    def close(self) -> None:
        self._pool.close()
