"""The catalogue search (REG-5) as one keyset-paginated query."""

from __future__ import annotations

from typing import Any

from sigmawatch.registry.catalogue import CatalogueQuery, encode_cursor
from sigmawatch.registry.postgres import _sql
from sigmawatch.registry.postgres.connection import Conn
from sigmawatch.registry.records import CataloguePage


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(conn: Conn, query: CatalogueQuery) -> CataloguePage:
    after = query.validate()
    where: list[str] = []
    args: list[Any] = []
    if query.series_prefix:
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
    if after is not None:
        where.append("(v.series_id, v.version) > (%s, %s)")
        args.extend(after)
    sql = _sql.SELECT_VERSIONS
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY v.series_id, v.version LIMIT %s"
    args.append(query.limit + 1)
    rows = conn.execute(sql.encode(), args).fetchall()
    records = [_sql.version_from_row(row) for row in rows[: query.limit]]
    more = len(rows) > query.limit
    cursor = encode_cursor(records[-1].series_id, records[-1].version) if more else None
    return CataloguePage(records, cursor)
