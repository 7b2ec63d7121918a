"""Fleet training throughput, and what a training pod spends before it trains (issue 10).

    .venv/bin/python bench/bench_fleet_train.py [--series N] [--fleet F]

One training pod's work, in this process, as a training Job's index runs it
(`sigmawatch.fleet.run_shard`): N series of 1,000 points from .npy files
through `train_series` into an embedded PostgreSQL and a file store. The
figure is series trained per second on one core. Then the cost that shard
lists removed: with F series in the fleet and one pod per 500, each pod
used to list the fleet's files and hash every id to find its share; that
listing is timed against the same pod reading its own list from the store.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from report import Row, ms, rate, ratio, summary, table
from sigmawatch.datasets import write_training_file
from sigmawatch.demo import demo_series
from sigmawatch.detectors import DetectorSpec
from sigmawatch.fleet import read_shard_list, run_shard, select_shard, write_shard_lists
from sigmawatch.sources import uri_source
from sigmawatch.training_job import FleetRun
from workspace import Workspace, now_on_grid

NAME = "fleet training"
POINTS = 1_000
PER_POD = 500


def write_fleet(folder: Path, n: int, end: int) -> list[str]:
    ids = [f"train_{i:06d}" for i in range(n)]
    folder.mkdir(parents=True)
    for i, series_id in enumerate(ids):
        timestamps, values = demo_series(POINTS, seed=i, end=end)
        write_training_file(folder / f"{series_id}.npy", timestamps, values)
    return ids


def run(series: int = 1_000, fleet: int = 20_000) -> list[Row]:
    with Workspace() as workspace:
        end = now_on_grid()
        folder = workspace.root / "train"
        ids = write_fleet(folder, fleet, end)
        template = folder.as_uri() + "/{series_id}.npy"
        settings = workspace.settings(min_training_points=POINTS)
        source = uri_source(template, s3_endpoint_url=None, s3_region="us-east-1")
        shards = -(-fleet // PER_POD)

        started = time.perf_counter()
        listed = select_shard(source.list_series("train_"), 0, shards)
        listing_s = time.perf_counter() - started
        write_shard_lists(workspace.store, "runs/bench/", ids, shards)
        started = time.perf_counter()
        own = read_shard_list(workspace.store, "runs/bench/", 0)
        own_list_s = time.perf_counter() - started
        assert own == listed

        write_shard_lists(workspace.store, "runs/train/", ids[:series], 1)
        run_ = FleetRun(
            run_id="bench-train",
            detector=DetectorSpec.parse(None),
            source_uri=template,
            shard_count=1,
            shard_index=0,
            shard_lists="runs/train/",
        )
        started = time.perf_counter()
        outcome = run_shard(
            run_, registry=workspace.registry, store=workspace.store, settings=settings, environ={}
        )
        train_s = time.perf_counter() - started
        assert outcome.result.outcomes["created"] == series, outcome.result.to_dict()
    per_pod_train_s = PER_POD * train_s / series
    print(
        table(
            ["case", "time"],
            [
                [f"train {series:,} series of {POINTS:,} points (one core)", f"{train_s:.2f} s"],
                [
                    f"list and hash a fleet of {fleet:,} to find one pod's share",
                    ms(listing_s * 1e3),
                ],
                ["read the pod's own list from the store", ms(own_list_s * 1e3)],
                [f"one pod's {PER_POD} series, trained", f"{per_pod_train_s:.2f} s"],
            ],
        )
    )
    return [
        Row(
            NAME,
            f"series trained per second on one core ({POINTS:,} points each)",
            rate(series / train_s, " series/s"),
            "—",
            "—",
        ),
        Row(
            NAME,
            f"a pod's share at {fleet:,} series: listing the fleet vs its own list",
            ms(listing_s * 1e3),
            ms(own_list_s * 1e3),
            ratio(listing_s, own_list_s),
        ),
        Row(
            NAME,
            f"share of a pod's time training at {fleet:,} series, listing vs own list",
            f"{per_pod_train_s / (per_pod_train_s + listing_s):.0%}",
            f"{per_pod_train_s / (per_pod_train_s + own_list_s):.1%}",
            "—",
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1_000)
    parser.add_argument("--fleet", type=int, default=20_000)
    args = parser.parse_args()
    print(summary(run(args.series, args.fleet)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
