"""Domain errors with stable codes (USE-4).

Every error a user can see carries a code from `ErrorCode`, a human message
and machine-readable details. The HTTP layer maps the code to a status and
renders `{"error": {"code", "message", "details"}}`; the CLI prints the same.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"
    TOO_MUCH_DATA = "TOO_MUCH_DATA"
    CONSTANT_SERIES = "CONSTANT_SERIES"
    INVALID_TIMESTAMP = "INVALID_TIMESTAMP"
    INVALID_VALUE = "INVALID_VALUE"
    INVALID_SERIES_ID = "INVALID_SERIES_ID"
    DATA_NOT_FOUND = "DATA_NOT_FOUND"
    INVALID_DETECTOR = "INVALID_DETECTOR"
    INVALID_REQUEST = "INVALID_REQUEST"
    INVALID_JSON = "INVALID_JSON"
    INVALID_CURSOR = "INVALID_CURSOR"
    MODEL_NOT_FOUND = "MODEL_NOT_FOUND"
    INVALID_VERSION = "INVALID_VERSION"
    VERSION_ARCHIVED = "VERSION_ARCHIVED"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    ARTIFACT_CORRUPT = "ARTIFACT_CORRUPT"
    ARTIFACT_MISSING = "ARTIFACT_MISSING"
    POINTER_HELD = "POINTER_HELD"
    INVALID_ROLLOUT = "INVALID_ROLLOUT"
    ROLLOUT_IN_PROGRESS = "ROLLOUT_IN_PROGRESS"
    ROLLOUT_NOT_FOUND = "ROLLOUT_NOT_FOUND"
    ROLLOUT_NOT_ACTIVE = "ROLLOUT_NOT_ACTIVE"
    ROLLOUT_DRIVER_MISMATCH = "ROLLOUT_DRIVER_MISMATCH"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    FORBIDDEN = "FORBIDDEN"
    API_KEY_NOT_FOUND = "API_KEY_NOT_FOUND"
    API_KEY_EXISTS = "API_KEY_EXISTS"
    RATE_LIMITED = "RATE_LIMITED"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    HOST_NOT_ALLOWED = "HOST_NOT_ALLOWED"
    TOO_MANY_ITEMS = "TOO_MANY_ITEMS"
    REQUEST_TIMEOUT = "REQUEST_TIMEOUT"
    MALFORMED_REQUEST = "MALFORMED_REQUEST"
    STORAGE_UNAVAILABLE = "STORAGE_UNAVAILABLE"
    BACKUP_NOT_FOUND = "BACKUP_NOT_FOUND"
    BACKUP_CORRUPT = "BACKUP_CORRUPT"
    BACKUP_INCOMPATIBLE = "BACKUP_INCOMPATIBLE"
    RESTORE_TARGET_NOT_EMPTY = "RESTORE_TARGET_NOT_EMPTY"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    INTERNAL_ERROR = "INTERNAL_ERROR"


# HTTP status per code; the API layer is the only user, but the mapping is
# domain knowledge (which failures are the caller's) so it lives here.
HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.INSUFFICIENT_DATA: 422,
    ErrorCode.TOO_MUCH_DATA: 422,
    ErrorCode.CONSTANT_SERIES: 422,
    ErrorCode.INVALID_TIMESTAMP: 422,
    ErrorCode.INVALID_VALUE: 422,
    ErrorCode.INVALID_SERIES_ID: 400,
    ErrorCode.DATA_NOT_FOUND: 404,
    ErrorCode.INVALID_DETECTOR: 422,
    ErrorCode.INVALID_REQUEST: 422,
    ErrorCode.INVALID_JSON: 400,
    ErrorCode.INVALID_CURSOR: 400,
    ErrorCode.MODEL_NOT_FOUND: 404,
    ErrorCode.INVALID_VERSION: 404,
    ErrorCode.VERSION_ARCHIVED: 409,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.ARTIFACT_CORRUPT: 500,
    ErrorCode.ARTIFACT_MISSING: 500,
    ErrorCode.POINTER_HELD: 409,
    ErrorCode.INVALID_ROLLOUT: 422,
    ErrorCode.ROLLOUT_IN_PROGRESS: 409,
    ErrorCode.ROLLOUT_NOT_FOUND: 404,
    ErrorCode.ROLLOUT_NOT_ACTIVE: 409,
    ErrorCode.ROLLOUT_DRIVER_MISMATCH: 409,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.INVALID_CREDENTIALS: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.API_KEY_NOT_FOUND: 404,
    ErrorCode.API_KEY_EXISTS: 409,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.HOST_NOT_ALLOWED: 400,
    ErrorCode.TOO_MANY_ITEMS: 413,
    ErrorCode.REQUEST_TIMEOUT: 408,
    ErrorCode.MALFORMED_REQUEST: 400,
    ErrorCode.STORAGE_UNAVAILABLE: 503,
    # Backups and restores (DUR-3) are CLI commands; the statuses keep the table whole.
    ErrorCode.BACKUP_NOT_FOUND: 404,
    ErrorCode.BACKUP_CORRUPT: 500,
    ErrorCode.BACKUP_INCOMPATIBLE: 409,
    ErrorCode.RESTORE_TARGET_NOT_EMPTY: 409,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.INTERNAL_ERROR: 500,
}


# Failures of infrastructure, not of the request: retrying later can succeed.
RETRYABLE = frozenset({ErrorCode.STORAGE_UNAVAILABLE})


class SigmawatchError(Exception):
    """An error with a stable code that is safe to show to the caller."""

    def __init__(self, code: ErrorCode, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    @property
    def retryable(self) -> bool:
        """True when the same request can succeed later without any change (an outage)."""
        return self.code in RETRYABLE

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.code]

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code.value, "message": self.message, "details": self.details}


class StorageUnavailableError(SigmawatchError):
    """The registry or the artifact store did not answer; the message is safe to show."""

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(ErrorCode.STORAGE_UNAVAILABLE, message, **details)
