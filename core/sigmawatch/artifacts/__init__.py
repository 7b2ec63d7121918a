"""Artifact stores chosen by URL scheme: file:// (default) and s3://."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from sigmawatch.artifacts.base import (
    ArtifactNotFoundError,
    ArtifactStore,
    StorageUnavailableError,
    copy_prefix,
    delete_keys,
)
from sigmawatch.artifacts.file import FileStore
from sigmawatch.artifacts.guarded import GuardedStore
from sigmawatch.artifacts.s3 import S3Store
from sigmawatch.settings import StorageSettings

__all__ = [
    "ArtifactNotFoundError",
    "ArtifactStore",
    "FileStore",
    "GuardedStore",
    "S3Store",
    "StorageUnavailableError",
    "copy_prefix",
    "delete_keys",
    "open_store",
    "store_for",
]


def open_store(
    url: str,
    *,
    s3_endpoint_url: str | None = None,
    s3_region: str = "us-east-1",
    timeout_s: float = 10.0,
) -> ArtifactStore:
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return FileStore(Path(unquote(parsed.path)))
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise ValueError(f"s3 URL needs a bucket: {url!r}")
        return S3Store(
            parsed.netloc,
            parsed.path,
            endpoint_url=s3_endpoint_url,
            region=s3_region,
            timeout_s=timeout_s,
        )
    raise ValueError(f"unsupported artifacts URL {url!r}: use file:// or s3://")


def store_for(settings: StorageSettings) -> ArtifactStore:
    """The artifact store the settings name (file:// under the data folder by default)."""
    return open_store(
        settings.resolved_artifacts_url,
        s3_endpoint_url=settings.s3_endpoint_url,
        s3_region=settings.s3_region,
        timeout_s=settings.storage_timeout_s,
    )
