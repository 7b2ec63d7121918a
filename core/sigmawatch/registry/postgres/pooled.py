"""The connection pool every part of `PostgresRegistry` borrows from."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from opentelemetry.trace import SpanKind

from sigmawatch import tracing
from sigmawatch.breaker import Breaker
from sigmawatch.registry.postgres.connection import (
    POOL_WAIT_S,
    Conn,
    connect,
    make_pool,
    translated,
)
from sigmawatch.registry.postgres.deadline import WATCHDOG
from sigmawatch.registry.postgres.schema import migrate

log = logging.getLogger(__name__)

# How long archiving or restoring waits for another process working on the same series.
SERIES_LOCK_WAIT_MS = 10_000
REPLICA = "sigmawatch-replica"
REPLICA_WAIT_S = 2.0  # for a replica connection, before the primary answers instead
REPLICA_RETRY_S = 30.0  # after a replica failure, reads go to the primary this long
PING_TIMEOUT_S = 2.0
# Background and start-up work that may rightly take longer than a request's
# deadline; `statement_timeout` and the TCP keepalives still bound them.
BULK = frozenset(
    {
        "migrate",
        "centre_scale_states",
        "most_used",
        "changed_since",
        "record_usage",
        "record_stats",
        "record_track_stats",
        "touch_api_keys",
        "prune_results",
        "prune_stats",
        "count_over",
        "shared_counts",
        "prune_health",
        "record_periods",
        "prune_audit",
        "versions_without_state",
    }
)


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
        read_url: str | None = None,
        breaker: Breaker | None = None,
        call_timeout_s: float | None = None,
    ) -> None:
        """`breaker` guards every call (AV-2); `call_timeout_s` is the deadline of
        each call not in BULK, connection wait included (None: no deadline)."""
        self.url = url
        self.breaker = breaker
        self.call_timeout_s = call_timeout_s
        self.series_lock_wait_ms = series_lock_wait_ms
        self._pool = make_pool(url, min_size=min_size, max_size=max_size)
        self._replica = (
            make_pool(read_url, min_size=1, max_size=max_size, name=REPLICA, checked=True)
            if read_url
            else None
        )
        self._replica_failed_at = -REPLICA_RETRY_S

    # -- connections -----------------------------------------------------------------

    @contextmanager
    def _guarded(self) -> Iterator[None]:
        if self.breaker is None:
            yield
        else:
            with self.breaker.guard():
                yield

    def _deadline(self, what: str) -> float | None:
        return None if what in BULK else self.call_timeout_s

    @contextmanager
    def _borrow(self, what: str, deadline: float | None) -> Iterator[Conn]:
        """A pooled connection for one call: through the breaker, errors translated,
        the connection wait and the call both within `deadline`; a span when traced."""
        with (
            _span(what),
            self._guarded(),
            translated(what),
            self._pool.connection(timeout=deadline or POOL_WAIT_S) as conn,
            WATCHDOG.watch(conn, deadline),
        ):
            yield conn

    @contextmanager
    def _read(self, what: str) -> Iterator[Conn]:
        with self._borrow(what, self._deadline(what)) as conn:
            yield conn

    @contextmanager
    def _lagging_read(self, what: str) -> Iterator[Conn]:
        """A read that may lag the primary by the replication delay (the catalogue,
        version statistics): on the replica when one is configured and answers."""
        conn = self._replica_connection()
        if conn is None:
            with self._read(what) as primary:
                yield primary
            return
        assert self._replica is not None
        try:
            with (
                _span(what, replica=True),
                self._guarded(),
                translated(what),
                WATCHDOG.watch(conn, self._deadline(what)),
            ):
                yield conn
        finally:
            self._replica.putconn(conn)

    def _replica_connection(self) -> Conn | None:
        if self._replica is None or time.monotonic() - self._replica_failed_at < REPLICA_RETRY_S:
            return None
        try:
            return self._replica.getconn(timeout=REPLICA_WAIT_S)
        except Exception as exc:  # refused, timed out, failed its check: the primary answers
            self._replica_failed_at = time.monotonic()
            log.warning(
                "read replica does not answer; reading from the primary",
                extra={"retry_in_s": REPLICA_RETRY_S, "error": type(exc).__name__},
            )
            return None

    @contextmanager
    def _write(self, what: str) -> Iterator[Conn]:
        with self._borrow(what, self._deadline(what)) as conn, conn.transaction():
            yield conn

    def open(self, *, timeout: float = 30.0) -> None:
        # One direct attempt first: a refused or silent server fails within the
        # connect timeout, instead of the pool retrying it for `timeout`.
        connect(self.url).close()
        with translated("open"):
            self._pool.open(wait=True, timeout=timeout)
        if self._replica is not None:  # connects in the background: it may be down now
            self._replica.open(wait=False)

    def migrate(self) -> list[int]:
        with self._read("migrate") as conn:
            return migrate(conn)

    def ping(self) -> None:
        """Through the breaker: after a cool-down the health check is its probe."""
        with self._borrow("ping", PING_TIMEOUT_S) as conn:
            conn.execute("SELECT 1")

    def close(self) -> None:
        # Connection attempts in flight are not waited for: a shutdown stays prompt.
        self._pool.close(timeout=0.2)
        if self._replica is not None:
            self._replica.close(timeout=0.2)


def _span(what: str, *, replica: bool = False) -> AbstractContextManager[object]:
    """`registry.<operation>` inside a traced request, run or reconcile (OBS-5)."""
    attributes = {tracing.DB_SYSTEM: "postgresql", tracing.DB_OPERATION: what}
    if replica:
        attributes["db.replica"] = "true"
    return tracing.child(f"registry.{what}", attributes, kind=SpanKind.CLIENT)
