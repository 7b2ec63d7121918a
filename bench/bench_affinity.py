"""Cache hit rate of models that are not resident, with and without series affinity (issue 10).

    .venv/bin/python bench/bench_affinity.py [--requests N] [--seed S]

A simulation, not a load test: a fleet of rich (non-resident) models, P pods
each with an LRU cache of `SIGMAWATCH_CACHE_MAX_ENTRIES` (20,000) models, and
requests drawn from a Zipf law over the series (a few hot series, a long
tail). Without affinity a request goes to a random pod, as Istio's
LEAST_REQUEST does for equal pods; with it, to the pod a hash ring of the
`X-Sigmawatch-Series` header picks (manifests/istio/destinationrule.yaml:
consistentHash, ring hash). The first half of the requests warms the
caches; the hit rate is the second half's. The baseline of each row is the
same fleet and load without affinity. The sensor fleet's own load, every
series once a cycle, is simulated too: with affinity each pod's cache needs
to hold only its share of the fleet, without it the whole fleet; once even
the share does not fit, an LRU misses every time, affinity or not, which is
why parametric models are resident instead (decision 0015). Also shown: the share of series that
keep their pod when one pod is added (the ring's point: a scale-up does not
empty every cache).
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import sys
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from report import Row, ratio, summary, table

NAME = "affinity"
CACHE_ENTRIES = 20_000
VIRTUAL_NODES = 160  # points per pod on the ring (Envoy's ring is ≥ 1,024 points)
ZIPF_S = 1.0


def _hash(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")


class Ring:
    def __init__(self, pods: int) -> None:
        points = sorted(
            (_hash(f"pod-{p}#{v}"), p) for p in range(pods) for v in range(VIRTUAL_NODES)
        )
        self.keys = [k for k, _ in points]
        self.pods = [p for _, p in points]

    def pod(self, series: int) -> int:
        at = bisect.bisect(self.keys, _hash(f"series_{series}")) % len(self.keys)
        return self.pods[at]


def zipf_load(series: int, requests: int, rng: np.random.Generator) -> np.ndarray:
    weights = 1.0 / np.arange(1, series + 1) ** ZIPF_S
    ranks = rng.choice(series, size=requests, p=weights / weights.sum())
    return rng.permutation(series)[ranks]  # hot series anywhere in the id space


def hit_rate(load: np.ndarray, pods: int, route: list[int] | np.ndarray) -> float:
    caches: list[OrderedDict[int, None]] = [OrderedDict() for _ in range(pods)]
    hits = 0
    warm = len(load) // 2
    for i, (series, pod) in enumerate(zip(load.tolist(), list(route), strict=True)):
        cache = caches[pod]
        if series in cache:
            cache.move_to_end(series)
            hits += i >= warm
        else:
            cache[series] = None
            if len(cache) > CACHE_ENTRIES:
                cache.popitem(last=False)
    return hits / (len(load) - warm)


def cycle_load(series: int, requests: int, rng: np.random.Generator) -> np.ndarray:
    """The sensor fleet: every series once a cycle (5 minutes), in a shuffled order."""
    cycles = -(-requests // series)
    return np.concatenate([rng.permutation(series) for _ in range(cycles)])[:requests]


@dataclass(frozen=True, slots=True)
class Case:
    series: int
    pods: int
    cyclic: bool = False

    @property
    def label(self) -> str:
        load = "every series once a cycle" if self.cyclic else "Zipf"
        return f"{self.series:,} rich models, {self.pods} pods, {load}"


CASES = (
    Case(100_000, 4),
    Case(100_000, 16),
    Case(1_000_000, 16),
    Case(1_000_000, 50),
    Case(100_000, 16, cyclic=True),
    Case(200_000, 16, cyclic=True),
    Case(1_000_000, 16, cyclic=True),
)


def run(requests: int = 1_200_000, seed: int = 7) -> list[Row]:
    rng = np.random.default_rng(seed)
    rows, lines = [], []
    for case in CASES:
        draw = cycle_load if case.cyclic else zipf_load
        load = draw(case.series, requests, rng)
        ring = Ring(case.pods)
        pod_of = {s: ring.pod(s) for s in np.unique(load).tolist()}
        random_hits = hit_rate(load, case.pods, rng.integers(0, case.pods, requests))
        affine_hits = hit_rate(load, case.pods, [pod_of[s] for s in load.tolist()])
        grown = Ring(case.pods + 1)
        kept = np.mean([grown.pod(s) == p for s, p in pod_of.items()])
        lines.append([case.label, f"{random_hits:.1%}", f"{affine_hits:.1%}", f"{kept:.0%}"])
        rows.append(
            Row(
                NAME,
                f"{case.label}: hit rate with vs without affinity",
                f"{affine_hits:.1%}",
                f"{random_hits:.1%}",
                ratio(affine_hits, random_hits) if random_hits else "n/a",
            )
        )
    print(
        f"Zipf s={ZIPF_S}, {requests:,} requests (the second half measured), "
        f"{CACHE_ENTRIES:,} cache entries a pod"
    )
    print(
        table(
            ["case", "hit rate, random pod", "hit rate, hash ring", "series kept on +1 pod"],
            lines,
        )
    )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_200_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(summary(run(args.requests, args.seed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
