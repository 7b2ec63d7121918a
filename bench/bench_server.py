"""The bench app (bench_app.py) as a uvicorn subprocess on 127.0.0.1."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType

BENCH_DIR = Path(__file__).resolve().parent
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
QUIET_S, SETTLE_LIMIT_S = 0.25, 10.0  # settle(): how long idle counts as idle, and at most
TICK_S = 1 / os.sysconf("SC_CLK_TCK")  # /proc's unit of CPU time


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class BenchServer:
    def __init__(self, env: Mapping[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env}
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> BenchServer:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(BENCH_DIR / "bench_app.py"), "--port", str(self.port)],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"bench server exited early:\n{self.log_tail()}")
            try:
                if self.request("GET", "/readiness")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"bench server not ready in {START_TIMEOUT_S:.0f} s:\n{self.log_tail()}")

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            sent = {"Content-Type": "application/json"} if body is not None else {}
            connection.request(method, path, body=body, headers={**sent, **(headers or {})})
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])

    def cpu_s(self) -> float:
        """CPU seconds the server process has used (Linux /proc), 0 once stopped."""
        if self.process is None:
            return 0.0
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) * TICK_S  # utime, stime

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()  # uvicorn shuts down gracefully on SIGTERM
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def settle(servers: Iterable[BenchServer]) -> float:
    """Wait until no server uses CPU for QUIET_S (at most SETTLE_LIMIT_S), so one
    server's work after its run (a traced one exporting its queued spans) is not
    counted against the next one measured; the seconds waited."""
    started = time.monotonic()
    watched = list(servers)
    before = [s.cpu_s() for s in watched]
    while time.monotonic() - started < SETTLE_LIMIT_S:
        time.sleep(QUIET_S)
        after = [s.cpu_s() for s in watched]
        if all(a - b <= TICK_S for a, b in zip(after, before, strict=True)):
            break
        before = after
    return time.monotonic() - started
