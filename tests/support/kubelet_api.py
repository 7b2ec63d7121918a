"""What the fake kubelet's modules share: the API server's errors, the pod IP, timestamps.

`support.kubelet` (the node), `support.kubelet_pod` (one pod) and
`support.kubelet_env` (a container's env and command) all build on this.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

type Json = dict[str, Any]

POD_IP = "127.0.0.1"


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class PodGoneError(Exception):
    """The pod was deleted (or replaced by another with the same name)."""


class ApiError(Exception):
    def __init__(self, response: httpx.Response) -> None:
        request = response.request
        super().__init__(
            f"{request.method} {request.url.path} -> {response.status_code}: {response.text[:2000]}"
        )
        self.status = response.status_code

    @property
    def transient(self) -> bool:
        """Overload or a restarting server: retry; anything else is a bug worth reporting."""
        return self.status == 429 or self.status >= 500


def check(response: httpx.Response) -> httpx.Response:
    if response.is_error:
        response.read()
        raise ApiError(response)
    return response
