"""The catalogue search (REG-5) as one keyset-paginated query."""

from __future__ import annotations

from typing import Any

from sigmawatch.registry.catalogue import CatalogueQuery, encode_cursor
from sigmawatch.registry.postgres import _sql
from sigmawatch.registry.postgres.connection import Conn
from sigmawatch.registry.records import CataloguePage


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# Each version found looks its series up (a nested loop, which OFFSET 0 keeps the
# planner from flattening): a merge join would walk the series table from its
# start to the first match, a cost that grows with the fleet.
CATALOGUE = (
    f"SELECT {_sql.VERSION_COLUMNS} FROM model_versions v CROSS JOIN LATERAL "
    "(SELECT production_version FROM series WHERE series.series_id = v.series_id OFFSET 0) s"
)
# A creation range with at most this many versions is read whole through its index
# and sorted (~10 ms); a wider one is found walking the primary key in order.
NARROW_RANGE = 10_000


def _range(query: CatalogueQuery) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    args: list[Any] = []
    if query.created_after:
        where.append("v.created_at >= %s")
        args.append(query.created_after)
    if query.created_before:
        where.append("v.created_at < %s")
        args.append(query.created_before)
    return where, args


def range_is_narrow(conn: Conn, query: CatalogueQuery) -> bool:
    """Whether the query's creation range holds at most NARROW_RANGE versions: counted
    in the (created_at, series_id, version) index, never past that bound. The planner
    cannot know: creation time and series order go together in a fleet (series are
    trained in prefix order), so its estimate of a walk in series order is far off."""
    where, args = _range(query)
    if not where:
        return False
    sql = (
        "SELECT count(*) AS n FROM (SELECT 1 FROM model_versions v WHERE "
        + " AND ".join(where)
        + " LIMIT %s) AS ranged"
    )
    row = conn.execute(sql.encode(), [*args, NARROW_RANGE + 1]).fetchone()
    return row is not None and int(row["n"]) <= NARROW_RANGE


def statement(query: CatalogueQuery, *, narrow_range: bool = False) -> tuple[str, list[Any]]:
    """The SQL and arguments of one catalogue page (its plans are tested at fleet size:
    tests/integration/test_catalogue_plans.py). `narrow_range`: order by expressions no
    index provides, so the plan reads the creation range through its index and sorts."""
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
        where.append("v.is_production")  # kept by a trigger on series (migration 0009)
    ranged, range_args = _range(query)
    where += ranged
    args += range_args
    if after is not None:
        where.append("(v.series_id, v.version) > (%s, %s)")
        args.extend(after)
    sql = CATALOGUE
    if where:
        sql += " WHERE " + " AND ".join(where)
    if narrow_range:
        sql += " ORDER BY v.series_id || '', v.version + 0 LIMIT %s"
    else:
        sql += " ORDER BY v.series_id, v.version LIMIT %s"
    args.append(query.limit + 1)
    return sql, args


def search(conn: Conn, query: CatalogueQuery) -> CataloguePage:
    sql, args = statement(query, narrow_range=range_is_narrow(conn, query))
    # Never a prepared statement: after five runs PostgreSQL may switch it to a generic
    # plan, blind to which detector or status is asked for, and those differ by 100x.
    rows = conn.execute(sql.encode(), args, prepare=False).fetchall()
    records = [_sql.version_from_row(row) for row in rows[: query.limit]]
    more = len(rows) > query.limit
    cursor = encode_cursor(records[-1].series_id, records[-1].version) if more else None
    return CataloguePage(records, cursor)
