"""The searchable catalogue of every model version (REG-5): the query, shared by
every registry implementation.

Filters: series prefix, detector kind, status, production only, creation
range. Results come in (series_id, version) order with an opaque keyset
cursor, so page N costs the same as page 1 with 100k+ series.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import datetime

import orjson

from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.registry.records import ACTIVE, ARCHIVED
from sigmawatch.validation import SERIES_ID_RE

MAX_LIMIT = 1000
SERIES_PREFIX_RE = re.compile(r"[A-Za-z0-9_]{1,128}")
DETECTOR_KIND_RE = re.compile(r"[a-z0-9_]{1,64}")


@dataclass(frozen=True, slots=True)
class CatalogueQuery:
    series_prefix: str | None = None
    detector_kind: str | None = None
    status: str | None = None
    production_only: bool = False
    created_after: datetime | None = None
    created_before: datetime | None = None
    limit: int = 100
    cursor: str | None = None

    def validate(self) -> tuple[str, int] | None:
        """Refuse what no version can match in a way a user can fix; the decoded cursor."""
        if self.status not in (None, ACTIVE, ARCHIVED):
            raise SigmawatchError(
                ErrorCode.INVALID_REQUEST,
                "status must be 'active' or 'archived'",
                status=self.status,
            )
        if not 1 <= self.limit <= MAX_LIMIT:
            raise SigmawatchError(
                ErrorCode.INVALID_REQUEST, f"limit must be 1..{MAX_LIMIT}", limit=self.limit
            )
        if self.series_prefix and not SERIES_PREFIX_RE.fullmatch(self.series_prefix):
            raise SigmawatchError(
                ErrorCode.INVALID_REQUEST,
                "series_prefix may only hold series_id characters: A-Z, a-z, 0-9 and _",
                series_prefix=self.series_prefix[:140],
            )
        if self.detector_kind and not DETECTOR_KIND_RE.fullmatch(self.detector_kind):
            raise SigmawatchError(
                ErrorCode.INVALID_REQUEST,
                "detector must be a detector kind such as zscore or mad",
                detector=self.detector_kind[:70],
            )
        return decode_cursor(self.cursor) if self.cursor else None


def encode_cursor(series_id: str, version: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([series_id, version])).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, int]:
    try:
        series_id, version = orjson.loads(
            base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        )
        if not isinstance(version, int) or not SERIES_ID_RE.fullmatch(series_id):
            raise ValueError(cursor)
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise SigmawatchError(
            ErrorCode.INVALID_CURSOR, "cursor is not one this service returned", cursor=cursor[:200]
        ) from None
    return series_id, version
