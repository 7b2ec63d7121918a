"""The catalogue (REG-5) at fleet scale: every filter, with and without its indexes.

    .venv/bin/python bench/bench_catalogue.py [--series N] [--versions V] [--repeats R]

An embedded PostgreSQL holds N series x V versions (default 100,000 x 10 =
1M, filled in SQL by fleet_catalogue.sql: the last 2% of series mad, 20% of
versions archived). Each case
is the first page (100) of `registry.search`, the path `GET /v1/models`
takes, timed R times; then the indexes of migrations 0007 and 0009 are dropped and
every case runs again in the same database. The baseline of each row is
the unfiltered first page in the same phase; the goal is p99 < 50 ms for
every case.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from report import Row, ms, ratio, summary, table
from sigmawatch.registry import CatalogueQuery
from sigmawatch.registry.postgres import PostgresRegistry
from workspace import Workspace

NAME = "catalogue"
GOAL_MS = 50.0
FILL = Path(__file__).with_name("fleet_catalogue.sql")
INDEXES = (
    "model_versions_by_detector",
    "model_versions_by_status",
    "model_versions_by_detector_status",
    "model_versions_production",
    "model_versions_production_by_detector",
)
START = datetime(2026, 1, 1, tzinfo=UTC)


def fill(conn: psycopg.Connection[object], series: int, versions: int, path: Path = FILL) -> None:
    """Run fleet_catalogue.sql (also used by tests/integration/test_catalogue_plans.py),
    or another fill script with the same parameters."""
    text = "\n".join(
        line for line in path.read_text().splitlines() if not line.lstrip().startswith("--")
    )
    params = {"series": series, "versions": versions}
    for statement in (s.strip() for s in text.split(";")):
        if statement:
            conn.execute(statement.encode(), params if "%(" in statement else None)


def cases(series: int, versions: int) -> dict[str, CatalogueQuery]:
    hour_in = datetime.fromtimestamp(START.timestamp() + series * versions / 2, UTC)
    hour_out = datetime.fromtimestamp(hour_in.timestamp() + 3600, UTC)
    last_100 = f"fleet_{series - 1:06d}"[:-2]  # the last 100 series: mad ones
    return {
        "no filter": CatalogueQuery(),
        "prefix": CatalogueQuery(series_prefix="fleet_0123"),
        "detector=mad": CatalogueQuery(detector_kind="mad"),
        "detector=mad + prefix": CatalogueQuery(detector_kind="mad", series_prefix=last_100),
        "detector matching nothing": CatalogueQuery(detector_kind="iforest"),
        "detector matching nothing + prefix": CatalogueQuery(
            detector_kind="iforest", series_prefix="fleet_0"
        ),
        "status=archived": CatalogueQuery(status="archived"),
        "status=archived + detector=mad": CatalogueQuery(status="archived", detector_kind="mad"),
        "production only": CatalogueQuery(production_only=True),
        "production + detector=mad": CatalogueQuery(production_only=True, detector_kind="mad"),
        "created in one hour": CatalogueQuery(created_after=hour_in, created_before=hour_out),
        "created in one hour + detector=mad": CatalogueQuery(
            created_after=hour_in, created_before=hour_out, detector_kind="mad"
        ),
    }


def timed(call: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(p50, p99) in milliseconds over `repeats` calls, after one warm-up call."""
    call()
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    seconds.sort()
    return (
        seconds[len(seconds) // 2] * 1000,
        seconds[min(len(seconds) - 1, int(0.99 * len(seconds)))] * 1000,
    )


def measure(
    registry: PostgresRegistry, queries: dict[str, CatalogueQuery], repeats: int
) -> dict[str, tuple[float, float]]:
    return {
        label: timed(lambda q=query: registry.search(q), repeats)  # type: ignore[misc]
        for label, query in queries.items()
    }


def run(series: int = 100_000, versions: int = 10, repeats: int = 30) -> list[Row]:
    with Workspace() as workspace:
        started = time.monotonic()
        with psycopg.connect(workspace.database_url, autocommit=True) as conn:
            fill(conn, series, versions)
        print(f"filled {series * versions:,} versions in {time.monotonic() - started:.0f} s")
        queries = cases(series, versions)
        indexed = measure(workspace.registry, queries, repeats)
        with psycopg.connect(workspace.database_url, autocommit=True) as conn:
            for index in INDEXES:
                conn.execute(f"DROP INDEX {index}".encode())
            # The creation index as it was before 0007: the time alone.
            conn.execute(b"DROP INDEX model_versions_created_at")
            conn.execute(b"CREATE INDEX model_versions_created_at ON model_versions (created_at)")
            conn.execute(b"ANALYZE model_versions")
        bare = measure(workspace.registry, queries, max(3, repeats // 10))
    print(
        table(
            ["case", "p50", "p99", "p50 without the indexes", "p99 without the indexes"],
            [
                [label, ms(p50), ms(p99), ms(bare[label][0]), ms(bare[label][1])]
                for label, (p50, p99) in indexed.items()
            ],
        )
    )
    plain = indexed["no filter"][1]
    rows = [
        Row(
            NAME,
            f"{label}, p99 vs no filter",
            ms(p99),
            ms(plain),
            f"{ratio(p99, plain)}{'' if p99 < GOAL_MS else ' (over 50 ms)'}",
        )
        for label, (_, p99) in indexed.items()
        if label != "no filter"
    ]
    worst = max(indexed, key=lambda label: indexed[label][1])
    rows.append(
        Row(
            NAME,
            f"worst case ({worst}) p99 vs without the indexes",
            ms(indexed[worst][1]),
            ms(bare[worst][1]),
            ratio(indexed[worst][1], bare[worst][1]),
        )
    )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=100_000)
    parser.add_argument("--versions", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    print(summary(run(args.series, args.versions, args.repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
