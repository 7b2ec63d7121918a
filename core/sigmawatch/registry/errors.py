"""The registry's domain errors, the same from every implementation."""

from __future__ import annotations

from sigmawatch.errors import ErrorCode, SigmawatchError, StorageUnavailableError
from sigmawatch.validation import format_version


def model_not_found(series_id: str) -> SigmawatchError:
    return SigmawatchError(
        ErrorCode.MODEL_NOT_FOUND,
        f"series {series_id!r} has no trained model",
        series_id=series_id,
        hint=f"POST /v1/series/{series_id}/train first",
    )


def version_not_found(series_id: str, version: int) -> SigmawatchError:
    return SigmawatchError(
        ErrorCode.INVALID_VERSION,
        f"series {series_id!r} has no version {format_version(version)}",
        series_id=series_id,
        version=format_version(version),
        hint=f"GET /v1/series/{series_id}/versions lists the versions",
    )


def version_archived(series_id: str, version: int) -> SigmawatchError:
    name = format_version(version)
    return SigmawatchError(
        ErrorCode.VERSION_ARCHIVED,
        f"version {name} of {series_id!r} is archived; restore it to use it",
        series_id=series_id,
        version=name,
        hint=f"POST /v1/series/{series_id}/versions/{name}/restore",
    )


def registry_unavailable() -> StorageUnavailableError:
    return StorageUnavailableError("model registry unavailable; retry")


class SeriesBusyError(StorageUnavailableError):
    """Another process holds the series' lock: the database is fine (the breaker ignores it)."""


def series_busy(series_id: str) -> StorageUnavailableError:
    return SeriesBusyError(
        "another archive or restore of this series is running; retry", series_id=series_id
    )
