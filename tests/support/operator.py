"""The operator as a real process (`python -m sigmawatch_operator`) against a test cluster."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from support.procs import ManagedProcess, clean_env, free_port, wait_for
from support.service import SOURCE_ROOTS

ROOT = Path(__file__).resolve().parents[2]


class OperatorProcess:
    def __init__(
        self, name: str, env: Mapping[str, str], log_dir: Path, args: Sequence[str] = ()
    ) -> None:
        self.log_offset = 0
        self.health_port = free_port()
        self.metrics_port = free_port()
        self.process = ManagedProcess(
            name,
            [
                sys.executable,
                "-m",
                "sigmawatch_operator",
                "--liveness",
                f"http://127.0.0.1:{self.health_port}/healthz",
                *args,
            ],
            clean_env(
                {
                    "PYTHONPATH": SOURCE_ROOTS,
                    "SIGMAWATCH_OPERATOR_METRICS_PORT": str(self.metrics_port),
                    "SIGMAWATCH_OPERATOR_METRICS_HOST": "127.0.0.1",
                    **env,
                }
            ),
            log_dir,
        )

    def start(self, *, timeout: float = 60.0) -> OperatorProcess:
        # Log files are appended to across runs; this run's part starts here.
        path = self.process.log_path
        self.log_offset = path.stat().st_size if path.exists() else 0
        self.process.start()
        self.process.wait_until(self.alive, timeout=timeout, what=f"{self.process.name} liveness")
        return self

    def alive(self) -> bool:
        return (
            httpx.get(f"http://127.0.0.1:{self.health_port}/healthz", timeout=2).status_code == 200
        )

    def metrics(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text

    def stop(self) -> None:
        self.process.stop()

    def log(self) -> str:
        """What this process logged (not earlier runs under the same name)."""
        path = self.process.log_path
        if not path.exists():
            return ""
        with path.open("rb") as handle:
            handle.seek(self.log_offset)
            return handle.read().decode(errors="replace")


def get_json(kubectl: Callable[..., Any], *args: str) -> Any:
    return json.loads(kubectl("get", *args, "-o", "json").stdout)


def condition(obj: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    for entry in (obj.get("status") or {}).get("conditions") or []:
        if entry.get("type") == kind:
            return dict(entry)
    return {}


def wait_for_status(
    kubectl: Callable[..., Any],
    resource: str,
    name: str,
    namespace: str,
    check: Callable[[dict[str, Any]], bool],
    *,
    timeout: float = 90.0,
    what: str,
) -> dict[str, Any]:
    """Poll an object until `check(object)` holds; the last object is returned."""
    seen: dict[str, Any] = {}

    def ready() -> bool:
        seen.clear()
        seen.update(get_json(kubectl, resource, name, "-n", namespace))
        return check(seen)

    try:
        wait_for(ready, timeout=timeout, what=what, interval=0.5)
    except TimeoutError as exc:
        raise TimeoutError(
            f"{exc}\nlast status: {json.dumps(seen.get('status'), indent=1)}"
        ) from None
    return dict(seen)
