"""A real Redis (the Debian `redis-server`) on loopback, memory only, for the rate limit tier."""

from __future__ import annotations

import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

from support.procs import ManagedProcess, clean_env, free_port
from support.tiers import require


@dataclass
class RedisServer:
    url: str
    port: int
    process: ManagedProcess


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start_redis(log_dir: Path) -> RedisServer:
    exe = shutil.which("redis-server")
    require(exe is not None, "Redis", "redis-server is not installed (make redis installs it)")
    assert exe is not None
    port = free_port()
    process = ManagedProcess(
        "redis",
        # Loopback only, nothing written to disk: the data is a test's counters.
        [exe, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        clean_env(),
        log_dir,
    ).start()
    process.wait_until(lambda: _answers(port), timeout=30, what="redis-server")
    return RedisServer(f"redis://127.0.0.1:{port}/0", port, process)
