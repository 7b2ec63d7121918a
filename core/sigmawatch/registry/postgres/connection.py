"""Connections to the registry's PostgreSQL, and the one place its failures are translated.

Every wait is bounded, so a slow or unreachable database turns into
STORAGE_UNAVAILABLE within seconds instead of requests that pile up.
Callers above this package never see a psycopg exception.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import orjson
import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.registry.errors import registry_unavailable
from sigmawatch.registry.postgres import _sql

log = logging.getLogger(__name__)

type Conn = psycopg.Connection[dict[str, Any]]

POOL_WAIT_S = 5.0
CONNECT_TIMEOUT_S = 5
STATEMENT_TIMEOUT_MS = 30_000
LOCK_TIMEOUT_MS = 10_000


def limits(*, lock_timeout_ms: int = LOCK_TIMEOUT_MS) -> dict[str, Any]:
    """Connection keywords that bound every wait: connect, statements, locks, dead peers."""
    return {
        "connect_timeout": CONNECT_TIMEOUT_S,
        "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c lock_timeout={lock_timeout_ms}",
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 10,
        "keepalives_count": 3,
    }


def make_pool(
    url: str,
    *,
    min_size: int,
    max_size: int,
    name: str = "sigmawatch-registry",
    checked: bool = False,
) -> ConnectionPool[Conn]:
    """`checked`: every connection is tested before it is lent (a replica that went away
    is noticed at once, not by the query)."""
    return ConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        kwargs={"row_factory": dict_row, "autocommit": True, "application_name": name, **limits()},
        open=False,
        name=name,
        # A request waits this long for a connection, then gets a clear 503.
        timeout=POOL_WAIT_S,
        check=ConnectionPool.check_connection if checked else None,
    )


@contextmanager
def translated(what: str = "registry call") -> Iterator[None]:
    """psycopg's and the pool's exceptions as domain errors; the detail goes to the log."""
    try:
        yield
    except SigmawatchError:
        raise
    except psycopg.DataError as exc:
        # Input the database cannot hold (a NUL character, an out-of-range number).
        raise SigmawatchError(
            ErrorCode.INVALID_REQUEST, "a value in the request cannot be stored or searched"
        ) from exc
    except (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout) as exc:
        log.warning("registry unavailable", extra={"call": what, "error": str(exc)})
        raise registry_unavailable() from exc


def connect(url: str, *, lock_timeout_ms: int = LOCK_TIMEOUT_MS) -> Conn:
    """A connection of its own (LISTEN, session locks), with the same bounds as the pool's."""
    with translated("connect"):
        return psycopg.connect(
            url, autocommit=True, row_factory=dict_row, **limits(lock_timeout_ms=lock_timeout_ms)
        )


def publish(conn: Conn, payload: Mapping[str, Any]) -> None:
    """A change notice on the registry's channel, sent at commit (the change feed)."""
    conn.execute(_sql.NOTIFY, (_sql.CHANNEL, orjson.dumps(payload).decode()))


def notify(conn: Conn, series_id: str, event: str) -> None:
    """Serving processes drop their cached copy of the series."""
    publish(conn, {"series_id": series_id, "event": event})
