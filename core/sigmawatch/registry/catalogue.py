"""The searchable catalogue of every model version (REG-5).

Filters: series prefix, detector kind, status, creation range. Results come
in (series_id, version) order with an opaque keyset cursor, so page N costs
the same as page 1 with 100k+ series.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.registry.records import ACTIVE, ARCHIVED, VersionRecord
from sigmawatch.registry.store import VERSION_COLUMNS, VERSION_FROM, Registry, version_from_row
from sigmawatch.validation import SERIES_ID_RE

MAX_LIMIT = 1000
SERIES_PREFIX_RE = re.compile(r"[A-Za-z0-9_]{1,128}")


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
            ErrorCode.INVALID_CURSOR, "cursor is not one this service returned", cursor=cursor
        ) from None
    return series_id, version


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(registry: Registry, query: CatalogueQuery) -> tuple[list[VersionRecord], str | None]:
    """One page of matching versions and the cursor of the next page (None at the end)."""
    if query.status not in (None, ACTIVE, ARCHIVED):
        raise SigmawatchError(
            ErrorCode.INVALID_REQUEST,
            "status must be 'active' or 'archived'",
            status=query.status,
        )
    if not 1 <= query.limit <= MAX_LIMIT:
        raise SigmawatchError(
            ErrorCode.INVALID_REQUEST, f"limit must be 1..{MAX_LIMIT}", limit=query.limit
        )
    where: list[str] = []
    args: list[Any] = []
    if query.series_prefix:
        if not SERIES_PREFIX_RE.fullmatch(query.series_prefix):
            raise SigmawatchError(
                ErrorCode.INVALID_REQUEST,
                "series_prefix may only hold series_id characters: A-Z, a-z, 0-9 and _",
                series_prefix=query.series_prefix[:140],
            )
        where.append("v.series_id LIKE %s")
        args.append(_escape_like(query.series_prefix) + "%")
    if query.detector_kind:
        where.append("v.detector_kind = %s")
        args.append(query.detector_kind)
    if query.status:
        where.append("v.status = %s")
        args.append(query.status)
    if query.production_only:
        where.append("v.version = s.production_version")
    if query.created_after:
        where.append("v.created_at >= %s")
        args.append(query.created_after)
    if query.created_before:
        where.append("v.created_at < %s")
        args.append(query.created_before)
    if query.cursor:
        where.append("(v.series_id, v.version) > (%s, %s)")
        args.extend(decode_cursor(query.cursor))
    sql = f"SELECT {VERSION_COLUMNS} FROM {VERSION_FROM}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY v.series_id, v.version LIMIT %s"
    args.append(query.limit + 1)
    with registry.pool.connection() as conn:
        rows = conn.execute(sql.encode(), args).fetchall()
    records = [version_from_row(row) for row in rows[: query.limit]]
    more = len(rows) > query.limit
    next_cursor = encode_cursor(records[-1].series_id, records[-1].version) if more else None
    return records, next_cursor
