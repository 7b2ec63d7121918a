"""The catalogue's plans at fleet shape use its indexes (REG-5, SCALE).

A real PostgreSQL holds 20,000 series x 5 versions (bench/fleet_catalogue.sql,
the benchmark's fill at a fifth of its series: the last 2% mad, 40% archived). Every
filter of `GET /v1/models`, alone and with a series prefix, is run under
EXPLAIN ANALYZE: no plan may read the versions table sequentially, and none
may read and throw away more than a few pages' worth of rows, which is what
made a selective filter walk the primary key (1.6 s at 1M versions).
bench/bench_catalogue.py measures the times at 1M.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from sigmawatch.registry import CatalogueQuery
from sigmawatch.registry.postgres import PostgresRegistry
from sigmawatch.registry.postgres.catalogue import range_is_narrow, statement
from support import postgres

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from bench_catalogue import cases, fill

SERIES, VERSIONS = 20_000, 5
# Rows a plan may read and discard: a few pages of 100, not a walk of the table.
MAX_DISCARDED = 2_000


@pytest.fixture(scope="module")
def fleet(pg_admin_url: str) -> Iterator[str]:
    url = postgres.create_database(pg_admin_url)
    registry = PostgresRegistry(url, max_size=2)
    registry.open()
    registry.migrate()
    registry.close()
    with psycopg.connect(url, autocommit=True) as conn:
        fill(conn, SERIES, VERSIONS)
    yield url
    postgres.drop_database(pg_admin_url, url)


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def explained(url: str, query: CatalogueQuery) -> dict[str, Any]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        sql, args = statement(query, narrow_range=range_is_narrow(conn, query))
        row = conn.execute(
            ("EXPLAIN (ANALYZE, FORMAT JSON) " + sql).encode(),
            args,
        ).fetchone()
    assert row is not None
    return dict(row["QUERY PLAN"][0]["Plan"])


def assert_reads_only_what_it_returns(plan: dict[str, Any], label: str) -> None:
    scans = [(n["Node Type"], n.get("Relation Name"), n.get("Index Name")) for n in nodes(plan)]
    assert ("Seq Scan", "model_versions", None) not in scans, scans
    # EXPLAIN reports per-loop averages: times the loops, the rows each node threw away.
    discarded = sum(
        (n.get("Rows Removed by Filter", 0) + n.get("Rows Removed by Join Filter", 0))
        * n.get("Actual Loops", 1)
        for n in nodes(plan)
    )
    assert discarded <= MAX_DISCARDED, (label, discarded, scans)


@pytest.mark.parametrize("label", list(cases(SERIES, VERSIONS)))
def test_every_filter_reads_only_what_it_returns(fleet: str, label: str) -> None:
    assert_reads_only_what_it_returns(explained(fleet, cases(SERIES, VERSIONS)[label]), label)


def test_a_deep_page_costs_what_the_first_does(fleet: str) -> None:
    registry = PostgresRegistry(fleet, max_size=1)
    registry.open()
    try:
        page = registry.search(CatalogueQuery(detector_kind="mad"))
        for _ in range(3):
            assert page.next_cursor is not None
            page = registry.search(CatalogueQuery(detector_kind="mad", cursor=page.next_cursor))
    finally:
        registry.close()
    query = CatalogueQuery(detector_kind="mad", cursor=page.next_cursor)
    assert_reads_only_what_it_returns(explained(fleet, query), "detector=mad, page 5")
