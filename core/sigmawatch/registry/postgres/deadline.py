"""A client-side deadline for registry calls (AV-2).

`statement_timeout` bounds the server's work, but not a slow network or a
server that stopped answering mid-query: libpq then waits on its socket
for as long as TCP keeps the connection. One watchdog thread keeps the
deadlines of the calls in flight and, when one passes, shuts the call's
socket down. The waiting driver sees a closed connection at once (a
`psycopg.OperationalError`, translated to STORAGE_UNAVAILABLE), the pool
throws the broken connection away, and the breaker counts the failure.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

log = logging.getLogger(__name__)


class Watchdog:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int]] = []
        self._live: dict[int, psycopg.Connection[Any]] = {}
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None
        self.expired = 0  # calls cut off, for tests and the log

    @contextmanager
    def watch(self, conn: psycopg.Connection[Any], seconds: float | None) -> Iterator[None]:
        if seconds is None:
            yield
            return
        token = next(self._ids)
        deadline = time.monotonic() + seconds
        with self._cond:
            self._live[token] = conn
            first = not self._heap or deadline < self._heap[0][0]
            heapq.heappush(self._heap, (deadline, token))
            self._ensure_thread()
            if first:
                self._cond.notify()
        try:
            yield
        finally:
            with self._cond:
                self._live.pop(token, None)

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="registry-deadline", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                deadline, token = self._heap[0]
                wait = deadline - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
                conn = self._live.pop(token, None)
            if conn is not None:
                self.expired += 1
                _cut(conn)


def _cut(conn: psycopg.Connection[Any]) -> None:
    """Shut the connection's socket down under the driver waiting on it."""
    try:
        fd = conn.pgconn.socket
        sock = socket.socket(fileno=socket.dup(fd))
    except (psycopg.Error, OSError):
        return  # already closed
    try:
        sock.shutdown(socket.SHUT_RDWR)
        log.warning("registry call passed its deadline; connection cut")
    except OSError:
        pass
    finally:
        sock.close()


WATCHDOG = Watchdog()
