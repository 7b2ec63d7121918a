"""Helpers of the resident table's tests: a trained fleet, single points, and answers
compared bit for bit (tests/unit/test_resident*.py)."""

from __future__ import annotations

from typing import Any

import numpy as np

from sigmawatch.errors import SigmawatchError
from sigmawatch.registry.rollout_records import StatsRow
from sigmawatch_inference.points import PointsRequest, Prediction
from support.data import series_data
from support.serving import Stack

type Answer = Prediction | SigmawatchError


def train_fleet(stack: Stack, n: int) -> list[str]:
    """`n` series, z-score and MAD alternating, each with its own threshold."""
    ids = [f"fleet_{i:05d}" for i in range(n)]

    def one(i: int) -> None:
        timestamps, values = series_data(200, seed=i)
        kind = "zscore" if i % 2 else "mad"
        detector = {"kind": kind, "params": {"threshold": 2.0 + (i % 7) * 0.25}}
        stack.train_data(ids[i], timestamps, values * (1 + i % 5), detector=detector)

    for i in range(n):
        one(i)
    return ids


def point(series_id: str, timestamp: int, value: float) -> PointsRequest:
    return PointsRequest(series_id, None, np.array([timestamp]), np.array([value]))


def same(a: Answer, b: Answer) -> None:
    """Equal answers; scores compared as bits, not within a tolerance."""
    if isinstance(a, SigmawatchError) or isinstance(b, SigmawatchError):
        assert isinstance(a, SigmawatchError)
        assert isinstance(b, SigmawatchError)
        assert a.to_dict() == b.to_dict()
        return
    assert a.scores.view(np.int64).tolist() == b.scores.view(np.int64).tolist()
    assert a.anomalies.tolist() == b.anomalies.tolist()
    fields = ("series_id", "version", "kind", "params", "threshold", "n_anomalies", "fallback")
    assert [getattr(a, f) for f in fields] == [getattr(b, f) for f in fields]
    assert timeless(a.warnings) == timeless(b.warnings)


def timeless(warnings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Warnings without their distance from now, which moves while a test runs."""
    return [{k: v for k, v in w.items() if not k.startswith("seconds_")} for w in warnings]


def answered_by_table(stack: Stack) -> float:
    return stack.counter("sigmawatch_resident_answers_total")


def per_version(rows: list[StatsRow]) -> list[tuple[Any, ...]]:
    """Statistics rows summed over their time buckets, by (series, version): the table
    spills its counts into the bucket of its last spill, the per-item path into the
    bucket of each answer, so a boundary crossed mid-test splits them differently."""
    summed: dict[tuple[str, int], list[Any]] = {}
    for r in rows:
        numbers = [r.predictions, r.anomalies, r.shadow_compared, r.shadow_agreed]
        numbers += [sum(r.latency), *r.drift_bins]
        old = summed.setdefault((r.series_id, r.version), [0] * len(numbers))
        summed[(r.series_id, r.version)] = [a + b for a, b in zip(old, numbers, strict=True)]
    return sorted((*key, *numbers) for key, numbers in summed.items())
