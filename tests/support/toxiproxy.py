"""Toxiproxy, the fault-injecting TCP proxy, built from the Go module proxy.

`Toxiproxy.proxy(name, upstream)` puts a proxy on a free loopback port in
front of `upstream`; its toxics add latency, stop data (timeout), reset
connections or limit bandwidth, and `enabled=False` refuses every
connection, as a server that went away does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from support.procs import ManagedProcess, free_port
from support.testbin import binary


@dataclass
class Proxy:
    api: httpx.Client
    name: str
    listen: str

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])

    def add(self, toxic: str, stream: str = "downstream", **attributes: Any) -> str:
        """Add a toxic (latency, timeout, reset_peer, bandwidth ...); returns its name."""
        name = f"{toxic}_{stream}"
        body = {"name": name, "type": toxic, "stream": stream, "attributes": attributes}
        self.api.post(f"/proxies/{self.name}/toxics", json=body).raise_for_status()
        return name

    def remove(self, toxic: str) -> None:
        self.api.delete(f"/proxies/{self.name}/toxics/{toxic}").raise_for_status()

    def clear(self) -> None:
        for toxic in self.api.get(f"/proxies/{self.name}/toxics").json():
            self.remove(toxic["name"])
        self.enable(True)

    def enable(self, enabled: bool) -> None:
        self.api.post(f"/proxies/{self.name}", json={"enabled": enabled}).raise_for_status()


class Toxiproxy:
    def __init__(self, log_dir: Path) -> None:
        server = binary("faults", "toxiproxy-server", "fault injection")
        self.port = free_port()
        self.process = ManagedProcess(
            "toxiproxy",
            [str(server), "-host", "127.0.0.1", "-port", str(self.port)],
            {"PATH": "/usr/bin:/bin"},
            log_dir,
        )
        self.api = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10)

    def start(self) -> Toxiproxy:
        self.process.start()
        self.process.wait_until(
            lambda: self.api.get("/version").status_code == 200, timeout=30, what="toxiproxy"
        )
        return self

    def proxy(self, name: str, upstream: str) -> Proxy:
        body = {"name": name, "listen": "127.0.0.1:0", "upstream": upstream, "enabled": True}
        created = self.api.post("/proxies", json=body)
        created.raise_for_status()
        return Proxy(self.api, name, created.json()["listen"])

    def stop(self) -> None:
        self.api.close()
        self.process.stop()
