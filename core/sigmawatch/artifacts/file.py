"""file:// artifact store: one file per key under a root folder.

Operating-system failures (a read-only or full disk, a vanished mount)
become `StorageUnavailableError`, as the S3 store's do; the path goes to
the log only.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from sigmawatch.artifacts.base import (
    ArtifactNotFoundError,
    Listing,
    StorageUnavailableError,
    unavailable,
)

log = logging.getLogger(__name__)

TEMP_PREFIX = ".tmp-"  # a write in progress; `remove_temp` sweeps what a crash left


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.url = self.root.as_uri()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise ValueError(f"artifact key escapes the store: {key!r}")
        return path

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=TEMP_PREFIX)
        except OSError as exc:
            unavailable(self.url, "write", exc, key)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            unavailable(self.url, "write", exc, key)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise ArtifactNotFoundError(key) from None
        except OSError as exc:
            unavailable(self.url, "read", exc, key)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> list[str]:
        return [key for key, _ in self.list_modified(prefix)]

    def list_modified(self, prefix: str) -> Listing:
        base = self._path(prefix) if prefix.strip("/") else self.root
        folder = base if prefix.endswith("/") or base.is_dir() else base.parent
        if not folder.is_dir():
            return []
        try:
            found = [
                (path.relative_to(self.root).as_posix(), path.stat().st_mtime)
                for path in folder.rglob("*")
                if path.is_file() and not path.name.startswith(TEMP_PREFIX)
            ]
        except FileNotFoundError:  # removed while listed: list again
            return self.list_modified(prefix)
        except OSError as exc:
            unavailable(self.url, "listing", exc)
        return sorted(entry for entry in found if entry[0].startswith(prefix))

    def remove_temp(self, older_than: float) -> int:
        """Delete the temporary files of writes that never finished (a killed
        process leaves them) last touched before `older_than` (Unix time)."""
        removed = 0
        for path in self.root.rglob(TEMP_PREFIX + "*"):
            try:
                if path.is_file() and path.stat().st_mtime < older_than:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
            except OSError as exc:
                unavailable(self.url, "delete", exc)
        return removed

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            unavailable(self.url, "delete", exc, key)
        # Drop empty folders up to the root so archived series leave no husks.
        for parent in path.parents:
            if parent == self.root or not parent.is_relative_to(self.root):
                break
            try:
                parent.rmdir()
            except OSError:
                break

    def ping(self) -> None:
        if not os.access(self.root, os.R_OK | os.W_OK | os.X_OK):
            log.warning("artifact folder is not writable", extra={"store": self.url})
            raise StorageUnavailableError("artifact folder is not writable")
