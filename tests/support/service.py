"""The inference service as a real uvicorn process (`sigmawatch serve`)."""

from __future__ import annotations

import ssl
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx

from support.procs import ManagedProcess, clean_env, free_port

ROOT = Path(__file__).resolve().parents[2]
SOURCE_ROOTS = ":".join(str(ROOT / p) for p in ("core", "inference", "operator"))
JSON_HEADERS = {"content-type": "application/json"}


class Service:
    def __init__(self, name: str, env: Mapping[str, str], log_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.verify: ssl.SSLContext | bool = True
        self.process = ManagedProcess(
            name,
            [sys.executable, "-m", "sigmawatch_inference.cli", "serve", "--port", str(self.port)],
            clean_env({"PYTHONPATH": SOURCE_ROOTS, **env}),
            log_dir,
        )

    def over_tls(self, ca_file: Path) -> Service:
        """Speak HTTPS to it, trusting `ca_file` (its SIGMAWATCH_TLS_CERT_FILE must be set)."""
        self.url = f"https://127.0.0.1:{self.port}"
        self.verify = ssl.create_default_context(cafile=ca_file)
        return self

    def start(self, *, timeout: float = 60.0) -> Service:
        self.process.start()
        self.process.wait_until(self.ready, timeout=timeout, what=f"{self.process.name} readiness")
        return self

    def ready(self) -> bool:
        return httpx.get(self.url + "/readiness", timeout=2, verify=self.verify).status_code == 200

    def stop(self) -> None:
        self.process.stop()

    def client(self, timeout: float = 30.0) -> httpx.Client:
        """A client that speaks the API as documented: every call declares JSON, which
        POSTs must do even without a body (SEC-1; tests/api/test_abuse.py refuses others)."""
        return httpx.Client(
            base_url=self.url, timeout=timeout, headers=JSON_HEADERS, verify=self.verify
        )


# make_service(name, *, env=None, start=True, shares=None) -> Service  (conftest.py)
type ServiceFactory = Callable[..., Service]
