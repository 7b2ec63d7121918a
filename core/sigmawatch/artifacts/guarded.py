"""An artifact store behind a circuit breaker, that remembers refused writes (AV-2).

Every call goes through the breaker, so an object store that is down or
slow fails calls fast instead of holding request threads. A refused write
(a read-only folder, a full disk, a bucket that rejects puts) is a fault a
read-only health check cannot see: the store keeps it until a later write
succeeds, `/healthcheck` reports it, and `check_writable` probes for the
recovery.
"""

from __future__ import annotations

import time

from sigmawatch.artifacts.base import ArtifactStore, Listing
from sigmawatch.breaker import Breaker
from sigmawatch.errors import StorageUnavailableError

# Beside the artifacts, so it meets the same folder or bucket policy they do.
PROBE_KEY = "models/.write-probe"


class GuardedStore:
    def __init__(self, store: ArtifactStore, breaker: Breaker) -> None:
        self.inner = store
        self.breaker = breaker
        self.url = store.url
        self.write_failed_at: float | None = None

    def put(self, key: str, data: bytes) -> None:
        try:
            with self.breaker.guard():
                self.inner.put(key, data)
        except StorageUnavailableError:
            self.write_failed_at = time.time()
            raise
        self.write_failed_at = None

    def get(self, key: str) -> bytes:
        with self.breaker.guard():
            return self.inner.get(key)

    def exists(self, key: str) -> bool:
        with self.breaker.guard():
            return self.inner.exists(key)

    def list(self, prefix: str) -> list[str]:
        with self.breaker.guard():
            return self.inner.list(prefix)

    def list_modified(self, prefix: str) -> Listing:
        with self.breaker.guard():
            return self.inner.list_modified(prefix)

    def delete(self, key: str) -> None:
        with self.breaker.guard():
            self.inner.delete(key)

    def ping(self) -> None:
        with self.breaker.guard():
            self.inner.ping()

    def check_writable(self) -> None:
        """After a refused write: try one small write (and remove it)."""
        if self.write_failed_at is None:
            return
        self.put(PROBE_KEY, b"ok")
        self.delete(PROBE_KEY)
