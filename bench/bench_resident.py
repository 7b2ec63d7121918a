"""The resident model table at fleet size: load time and bytes per model (issue 10).

    .venv/bin/python bench/bench_resident.py [--sizes 100000,1000000] [--repeats R] [--previous]

An embedded PostgreSQL holds N parametric production models (fleet_resident.sql,
filled in SQL). For each size the table is loaded R times the way a serving
process loads it before readiness (`ResidentTable.load`: every row fits, so
in any order); the baseline is reading the same rows from the registry the
same way without building anything, so load/stream is what building the
columns adds to the read. The read most used first (a budget that cuts) is
timed beside it. Bytes are the
table's own count (what `SIGMAWATCH_RESIDENT_MAX_BYTES` bounds) and the
peak Python allocation during a load (tracemalloc, numpy included). A lookup
of 1,000 ids is timed against a Python dict of the same ids, the index the
table replaces. Goals: 1M models in ≤ 300 MB, loaded in ≤ 5 s. `--previous` also
times the load with the query before migration 0013, interleaved with today's.
"""

from __future__ import annotations

import argparse
import sys
import time
import timeit
import tracemalloc
from pathlib import Path

import psycopg

from bench_catalogue import fill
from report import Row, median, ms, ratio, summary, table
from sigmawatch.registry.postgres import PostgresRegistry
from sigmawatch_inference.resident import ResidentTable
from sigmawatch_inference.resident_columns import ASKED
from sigmawatch_inference.stats_buffer import StatsBuffer
from sigmawatch_inference.usage import UsageCounter
from workspace import Workspace

NAME = "resident table"
FILL = Path(__file__).with_name("fleet_resident.sql")
BUDGET = 2**40  # unbounded here: the figures are per model
FLEET_9M = 9_000_000


def stream_seconds(registry: PostgresRegistry, n: int, *, ordered: bool = False) -> float:
    """The registry's read alone: in any order, as the load reads a fleet that fits its
    budget; `ordered`: most used first, as it reads one that does not."""
    started = time.perf_counter()
    chunks = registry.centre_scale_states(ASKED, n, ordered=ordered)
    rows = sum(len(chunk.series_ids) for chunk in chunks)
    assert rows == n, rows
    return time.perf_counter() - started


def load(registry: PostgresRegistry) -> tuple[ResidentTable, float]:
    """The table, and seconds to load it."""
    table = ResidentTable(StatsBuffer(10), UsageCounter(), BUDGET)
    started = time.perf_counter()
    table.load(registry)
    return table, time.perf_counter() - started


def peak_bytes(registry: PostgresRegistry) -> int:
    """The peak Python allocation of one load (traced apart: tracing slows it 4×)."""
    tracemalloc.start()
    ResidentTable(StatsBuffer(10), UsageCounter(), BUDGET).load(registry)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def lookups(table: ResidentTable, n: int) -> tuple[float, float]:
    """Seconds per lookup of 1,000 ids: the table, and a dict {id: row} of the same ids."""
    ids = [f"fleet_{i:07d}" for i in range(0, n, max(1, n // 1000))][:1000]
    index = {f"fleet_{i:07d}": i for i in range(n)}

    def fresh() -> list[str]:  # ids as a parsed request holds them: new str objects
        return [s.encode().decode() for s in ids]

    base = min(timeit.repeat(fresh, number=200, repeat=5)) / 200
    table_s = min(timeit.repeat(lambda: table.lookup(fresh()), number=200, repeat=5)) / 200
    dict_s = min(timeit.repeat(lambda: [index.get(s, -1) for s in fresh()], number=200, repeat=5))
    assert (table.lookup(ids) >= 0).all()
    return table_s - base, dict_s / 200 - base


def previous_seconds(registry: PostgresRegistry) -> float:
    from previous_load import previous_query  # the comparison run only

    with previous_query():
        return load(registry)[1]


def run(
    sizes: tuple[int, ...] = (100_000, 1_000_000), repeats: int = 3, previous: bool = False
) -> list[Row]:
    rows: list[Row] = []
    lines = []
    for n in sizes:
        with Workspace() as workspace:
            with psycopg.connect(workspace.database_url, autocommit=True) as conn:
                fill(conn, n, 1, FILL)
            registry = workspace.registry
            stream = median(stream_seconds(registry, n) for _ in range(repeats))
            ranked = median(stream_seconds(registry, n, ordered=True) for _ in range(repeats))
            loads, before = [], []
            for _ in range(repeats):  # interleaved: both share the machine's minute
                loads.append(load(registry))
                if previous:
                    before.append(previous_seconds(registry))
            table_ = loads[-1][0]
            seconds = median(s for _, s in loads)
            if previous:
                rows.append(
                    Row(
                        NAME,
                        f"{n:,} models, load vs the load before migration 0013",
                        ms(seconds * 1000),
                        ms(median(before) * 1000),
                        ratio(seconds, median(before)),
                    )
                )
            peak = peak_bytes(registry)
            per_model = table_.nbytes / n
            table_lookup, dict_lookup = lookups(table_, n)
        lines.append(
            [
                f"{n:,}",
                f"{seconds:.2f} s",
                f"{stream:.2f} s",
                f"{table_.nbytes / 2**20:.0f} MiB",
                f"{per_model:.0f} B",
                f"{peak / 2**20:.0f} MiB",
                f"{table_lookup * 1e6:.0f} µs",
                f"{dict_lookup * 1e6:.0f} µs",
            ]
        )
        rows += [
            Row(
                NAME,
                f"{n:,} models, load vs registry read alone",
                ms(seconds * 1000),
                ms(stream * 1000),
                ratio(seconds, stream),
            ),
            Row(
                NAME,
                f"{n:,} models, read most used first vs in any order",
                ms(ranked * 1000),
                ms(stream * 1000),
                ratio(ranked, stream),
            ),
            Row(
                NAME,
                f"{n:,} models, bytes vs 300 B a model (300 MB at 1M)",
                f"{per_model:.0f} B",
                "300 B",
                ratio(per_model, 300),
            ),
            Row(
                NAME,
                f"{n:,} models, lookup of 1,000 ids vs a dict",
                f"{table_lookup * 1e6:.0f} µs",
                f"{dict_lookup * 1e6:.0f} µs",
                ratio(table_lookup, dict_lookup),
            ),
        ]
    print(
        table(
            [
                "models",
                "load",
                "registry read",
                "table",
                "per model",
                "peak while loading",
                "lookup 1,000",
                "dict lookup 1,000",
            ],
            lines,
        )
    )
    print(
        f"9M models at the largest size's bytes per model: {per_model * FLEET_9M / 2**30:.2f} GiB"
    )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--previous", action="store_true", help="also the pre-0013 load")
    args = parser.parse_args()
    sizes = tuple(int(s) for s in args.sizes.split(","))
    print(summary(run(sizes, args.repeats, args.previous)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
