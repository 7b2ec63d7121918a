"""The fault tier: real faults between the service and its storage (AV-1, AV-2).

Toxiproxy sits between the service and a PostgreSQL that listens on TCP,
and between the service and the S3 server. Every test keeps its faults
bounded in time and clears them when it ends.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from support.tcp_postgres import TcpPostgres, start_tcp_postgres
from support.toxiproxy import Proxy, Toxiproxy

# Short bounds so a test sees the breaker open and close within seconds.
FAST_BREAKER = {
    "SIGMAWATCH_STORAGE_TIMEOUT_S": "1",
    "SIGMAWATCH_BREAKER_FAILURES": "3",
    "SIGMAWATCH_BREAKER_COOL_DOWN_S": "3",
    "SIGMAWATCH_JANITOR_INTERVAL_S": "0",
}


@pytest.fixture(scope="module")
def toxiproxy(artifacts_dir: Path) -> Iterator[Toxiproxy]:
    proxy = Toxiproxy(artifacts_dir / "logs").start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def tcp_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TcpPostgres]:
    server = start_tcp_postgres(tmp_path_factory.mktemp("tcp-pg") / "pg")
    yield server
    server.stop("immediate")


@pytest.fixture
def pg_proxy(toxiproxy: Toxiproxy, tcp_postgres: TcpPostgres) -> Iterator[Proxy]:
    proxy = toxiproxy.proxy(f"pg-{time.monotonic_ns()}", f"127.0.0.1:{tcp_postgres.port}")
    yield proxy
    proxy.clear()


@dataclass(frozen=True)
class Result:
    n: int  # which call: the loops pass it to `call`, which picks its target by it
    started: float
    seconds: float
    status: int
    headers: httpx.Headers
    error: str | None  # the body of an answer that was not 200, for the failure message


class Load:
    """Calls `call(client, n)` in a loop on a few threads until stopped."""

    def __init__(
        self, base_url: str, call: Callable[[httpx.Client, int], httpx.Response], threads: int
    ) -> None:
        self.call = call
        self.base_url = base_url
        self.results: list[Result] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)
        ]

    def _run(self, index: int) -> None:
        headers = {"content-type": "application/json"}
        with httpx.Client(base_url=self.base_url, timeout=30, headers=headers) as client:
            n = index
            while not self._stop.is_set():
                started = time.monotonic()
                response = self.call(client, n)
                seconds = time.monotonic() - started
                status = response.status_code
                error = None if status == 200 else response.text[:300]
                result = Result(n, started, seconds, status, response.headers, error)
                with self._lock:
                    self.results.append(result)
                n += len(self._threads)

    def durations(self) -> list[float]:
        return [r.seconds for r in self.results]

    def statuses(self) -> set[int]:
        return {r.status for r in self.results}

    def errors(self) -> list[str]:
        return [f"{r.status} after {r.seconds:.2f}s: {r.error}" for r in self.results if r.error]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)
