"""The artifact store protocol: a flat key → bytes namespace.

Implementations are chosen by URL scheme (`open_store`); one contract test
suite runs against each of them.
"""

from __future__ import annotations

import logging
from typing import NoReturn, Protocol

from sigmawatch.errors import ErrorCode, SigmawatchError, StorageUnavailableError

log = logging.getLogger(__name__)

__all__ = ["ArtifactNotFoundError", "ArtifactStore", "Listing", "StorageUnavailableError"]

# Keys with their last write (Unix time); named here because inside the
# stores' classes `list` is a method.
type Listing = list[tuple[str, float]]


class ArtifactNotFoundError(SigmawatchError):
    """No object under the key: data that is gone, not a store that is down (no retry)."""

    def __init__(self, key: str) -> None:
        super().__init__(ErrorCode.ARTIFACT_MISSING, "artifact missing", key=key)
        self.key = key


def unavailable(store_url: str, action: str, exc: Exception, key: str | None = None) -> NoReturn:
    """A store's failure as the caller sees it: the key only; the store's own message
    (endpoint, bucket, path) goes to the log."""
    log.warning(
        "artifact store call failed",
        extra={"action": action, "key": key, "store": store_url, "error": str(exc)},
    )
    details = {"key": key} if key is not None else {}
    raise StorageUnavailableError(f"artifact {action} failed; retry", **details) from exc


class ArtifactStore(Protocol):
    url: str

    def put(self, key: str, data: bytes) -> None:
        """Write atomically: a reader sees the old object, the new one, or none."""
        ...

    def get(self, key: str) -> bytes:
        """The object's bytes; ArtifactNotFoundError if there is none."""
        ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str) -> list[str]:
        """Keys under a prefix, sorted."""
        ...

    def list_modified(self, prefix: str) -> Listing:
        """Keys under a prefix, sorted, each with its last write as a Unix time."""
        ...

    def delete(self, key: str) -> None:
        """Remove a key; absent keys are fine."""
        ...

    def ping(self) -> None:
        """Raise StorageUnavailableError unless the store answers."""
        ...


def copy_prefix(store: ArtifactStore, source: str, target: str) -> list[str]:
    """Copy every key under `source` to `target`; returns the source keys.

    Callers delete the sources only after the registry points at the copy,
    so a crash midway leaves a complete artifact under one prefix or both.
    """
    keys = store.list(source)
    for key in keys:
        store.put(target + key[len(source) :], store.get(key))
    return keys


def delete_keys(store: ArtifactStore, keys: list[str]) -> None:
    for key in keys:
        store.delete(key)
