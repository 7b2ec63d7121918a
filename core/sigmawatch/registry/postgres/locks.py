"""Session-level resources: the per-series advisory lock and the LISTEN feed.

Each uses a connection of its own rather than a pooled one: holding a
pooled connection while the locked work takes others could exhaust the
pool, and LISTEN must stay on one session.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import orjson
import psycopg

from sigmawatch.registry.access_protocol import API_KEYS_CHANGE
from sigmawatch.registry.errors import registry_unavailable, series_busy
from sigmawatch.registry.postgres import _sql
from sigmawatch.registry.postgres.connection import Conn, connect, translated

log = logging.getLogger(__name__)


@contextmanager
def series_lock(url: str, series_id: str, *, wait_ms: int) -> Iterator[None]:
    """Connecting and waiting for the lock are both bounded; closing releases it."""
    with connect(url, lock_timeout_ms=wait_ms) as conn:
        try:
            conn.execute(_sql.ADVISORY_LOCK, (_sql.LOCK_PREFIX + series_id,))
        except psycopg.errors.LockNotAvailable:
            raise series_busy(series_id) from None
        except psycopg.Error as exc:
            log.warning("series lock failed", extra={"series_id": series_id, "error": str(exc)})
            raise registry_unavailable() from exc
        yield


class PostgresFeed:
    """LISTEN on the registry's channel; notifications become series ids."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    def changes(self, timeout: float) -> Iterator[str]:
        with translated("listen"):
            for notify in self.conn.notifies(timeout=timeout):
                series_id = _series_of(notify.payload)
                if series_id is not None:
                    yield series_id


def _series_of(payload: str) -> str | None:
    """A series id, `rollout:<id>` for a rollout's routing, `apikeys:` for a revoked key;
    None for anything else."""
    try:
        document = orjson.loads(payload)
        if document.get("apikeys") is True:
            return API_KEYS_CHANGE
        if isinstance(document.get("rollout"), int):
            return f"rollout:{document['rollout']}"
        series_id = document["series_id"]
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        series_id = None
    if not isinstance(series_id, str):
        log.warning("ignoring malformed notification", extra={"payload": payload[:200]})
        return None
    return series_id


@contextmanager
def listen(url: str) -> Iterator[PostgresFeed]:
    with connect(url) as conn:
        with translated("listen"):
            conn.execute(f"LISTEN {_sql.CHANNEL}")
        yield PostgresFeed(conn)
