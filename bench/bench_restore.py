"""Restore time of a 10,000-series registry: the RTO of a lost database (DUR-3).

    .venv/bin/python bench/bench_restore.py [--series N] [--versions V]

N series with V versions each (1,000 points, z-score and MAD) are trained
through `train_series` into an embedded PostgreSQL and a file store, then
backed up with `take_backup` (what `sigmawatch backup` runs). Each restore
goes into a new, empty database of the same server, as the runbook's does
(`restore_backup`, what `sigmawatch restore` runs): once reading and hashing
every artifact object the backup lists (the default), once only asking that
they exist. The goal is the RTO of DUR-3, 15 minutes; the figures say how
much of it the restore itself takes.
"""

from __future__ import annotations

import argparse
import sys
import time

import psycopg
from psycopg.conninfo import make_conninfo

from report import Row, ratio, summary, table
from sigmawatch.backups import Check, restore_backup, take_backup
from sigmawatch.demo import demo_series
from sigmawatch.training import train_series
from workspace import Workspace, now_on_grid

NAME = "restore (RTO)"
POINTS = 1_000
RTO_GOAL_S = 15 * 60


def _fresh_database(admin_url: str, name: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_conninfo(admin_url, dbname=name)


def _count(url: str, table_name: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table_name}").fetchone()
        return int(row[0]) if row else 0


def run(series: int = 10_000, versions: int = 2) -> list[Row]:
    with Workspace() as workspace:
        settings = workspace.settings(min_training_points=POINTS)
        end = now_on_grid()
        started = time.perf_counter()
        for i in range(series):
            detector = {"kind": "mad"} if i % 4 == 3 else None
            for v in range(versions):
                timestamps, values = demo_series(POINTS, seed=i * versions + v, end=end)
                train_series(
                    f"restore_{i:06d}",
                    timestamps,
                    values,
                    registry=workspace.registry,
                    store=workspace.store,
                    settings=settings,
                    detector=detector,
                )
        train_s = time.perf_counter() - started
        backup = take_backup(workspace.database_url, workspace.store, workspace.store)
        rows_in = _count(workspace.database_url, "model_versions")
        timings = {}
        for check in (Check.HASH, Check.EXISTS):
            target = _fresh_database(workspace.database_url, f"restored_{check.value}")
            started = time.perf_counter()
            report = restore_backup(
                backup.backup_id, target, workspace.store, workspace.store, check=check
            )
            timings[check] = (time.perf_counter() - started, report)
            assert _count(target, "model_versions") == rows_in
    hashed_s, hashed = timings[Check.HASH]
    exists_s, _ = timings[Check.EXISTS]
    objects = backup.manifest["artifacts"]["count"]
    print(
        table(
            ["case", "time"],
            [
                [f"train {series:,} series × {versions} versions (setup)", f"{train_s:.1f} s"],
                [
                    f"backup ({backup.manifest['bytes'] / 1e6:.1f} MB written)",
                    f"{backup.seconds:.2f} s",
                ],
                [f"restore, {objects:,} artifact objects hashed", f"{hashed_s:.2f} s"],
                ["  of which: artifact check", f"{hashed.seconds['artifacts']:.2f} s"],
                ["  of which: schema (migrations)", f"{hashed.seconds['schema']:.2f} s"],
                ["  of which: loading the tables", f"{hashed.seconds['load']:.2f} s"],
                ["restore, artifacts only checked to exist", f"{exists_s:.2f} s"],
            ],
        )
    )
    label = f"{series:,} series × {versions} versions"
    return [
        Row(NAME, f"restore of {label}, artifacts hashed", f"{hashed_s:.1f} s",
            f"{RTO_GOAL_S // 60} min goal", ratio(hashed_s, RTO_GOAL_S)),
        Row(NAME, f"restore of {label}, artifacts checked to exist", f"{exists_s:.1f} s",
            f"{RTO_GOAL_S // 60} min goal", ratio(exists_s, RTO_GOAL_S)),
        Row(NAME, f"backup of {label}", f"{backup.seconds:.1f} s", "—", "—"),
    ]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--versions", type=int, default=2)
    args = parser.parse_args()
    print(summary(run(args.series, args.versions)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
