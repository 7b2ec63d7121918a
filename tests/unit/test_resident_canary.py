"""Canary rollouts on the resident pass (REL-2..4, PERF-4; docs/decisions/0019).

A canary's latency check compares the candidate with stable, so both versions
of a parametric canary series are answered on the one numpy pass and counted
the same way; the per-item path stays the reference for every answer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from sigmawatch.errors import SigmawatchError
from sigmawatch.registry.rollout_records import Route, StatsRow
from sigmawatch.rollouts.policy import Action, first_state, judge
from sigmawatch.rollouts.spec import Strategy, parse_rollout_spec
from sigmawatch.rollouts.window import VersionWindow
from sigmawatch_inference.columns import predict_columns
from sigmawatch_inference.points import ColumnsRequest, PointsRequest, Prediction
from support.data import START, series_data
from support.resident_checks import answered_by_table, per_version, point, same, train_fleet
from support.serving import Stack, run_async

WEIGHT = 50


def canary_fleet(stack: Stack, n: int) -> list[str]:
    """`n` series; the first half in a canary of a second version each, at WEIGHT%."""
    ids = train_fleet(stack, n)
    routes = []
    for i, series_id in enumerate(ids[: n // 2]):
        stack.train_data(series_id, *series_data(200, seed=7000 + i), promote=False)
        routes.append(Route(1, 1, Strategy.CANARY, WEIGHT, False, series_id, 1, 2))
    stack.routing._replace([1], routes)
    stack.resident.load(stack.memory)
    return ids


def versions_of(answers: list[Prediction | SigmawatchError]) -> list[int | None]:
    return [a.version if isinstance(a, Prediction) else None for a in answers]


def batch(ids: list[str], seed: int) -> list[PointsRequest | SigmawatchError]:
    rng = np.random.default_rng(seed)
    items: list[PointsRequest | SigmawatchError] = [
        point(s, START + 300 * int(rng.integers(0, 199)), float(rng.normal(10, 6))) for s in ids
    ]
    items[3] = PointsRequest(ids[3], None, np.array([START, START + 300]), np.array([1.0, 99.0]))
    return items


def test_canary_answers_on_the_pass_equal_the_per_item_answers_and_counts(
    tmp_path: Path,
) -> None:
    counted = []
    for resident_bytes in (0, 10**6):
        stack = Stack(tmp_path / str(resident_bytes), resident_bytes=resident_bytes)
        ids = canary_fleet(stack, 200)
        first = run_async(stack.predictor.predict_many(batch(ids, 1)))
        on_table = answered_by_table(stack)
        # Asked for by version: the candidates are cached, as serving traffic leaves them.
        warm = [PointsRequest(s, 2, np.array([START]), np.array([10.0])) for s in ids[:100]]
        run_async(stack.predictor.predict_many(warm))
        again = run_async(stack.predictor.predict_many(batch(ids, 2)))
        singles = [run_async(stack.predictor.predict(point(s, START + 600, 11.0))) for s in ids]
        columns = ColumnsRequest(ids, np.full(len(ids), START + 900), np.full(len(ids), 30.0))
        answer = run_async(predict_columns(stack.predictor, columns))
        if resident_bytes:  # stable's items at once, the candidates' once cached
            assert on_table == 200 - versions_of(first).count(2)
            assert answered_by_table(stack) - on_table == 200 + 200 + 200  # then all of it
        assert 30 < versions_of(again)[:100].count(2) < 70  # both versions answer the canary half
        stack.resident.spill()
        rows = per_version(stack.stats.take())  # drift bins included
        metrics = [
            stack.counter("sigmawatch_rollout_points_total", role=role)
            for role in ("stable", "candidate")
        ]
        counted.append((rows, metrics, [*first, *again, *singles], answer, stack.usage.take()))
    assert counted[0][0] == counted[1][0]  # the same statistics rows, drift bins included
    assert counted[0][1] == counted[1][1]
    assert counted[0][4] == counted[1][4]  # usage
    for a, b in zip(counted[0][2], counted[1][2], strict=True):
        same(a, b)
    per_item, pass_ = counted[0][3], counted[1][3]
    assert per_item.versions.tolist() == pass_.versions.tolist()
    assert per_item.scores.view(np.int64).tolist() == pass_.scores.view(np.int64).tolist()


def window(rows: list[StatsRow], version: int) -> VersionWindow:
    mine = [r for r in rows if r.version == version]
    latency = tuple(int(n) for n in np.sum([r.latency for r in mine], axis=0))
    return VersionWindow(
        predictions=sum(r.predictions for r in mine),
        anomalies=sum(r.anomalies for r in mine),
        latency=latency,
    )


def test_a_healthy_canary_is_not_rolled_back_for_latency_while_stable_is_resident(
    tmp_path: Path,
) -> None:
    """Stable is a resident row, the candidate a version of the same kind: both answer
    on the one pass and each request is one latency observation on either side, so
    the default checks (2x stable's P99, 1 ms floor) see like for like and the canary
    advances at the first interval even with no second chance (REL-3, REL-4). Before
    decision 0019, routed series left the pass."""
    stack = Stack(tmp_path, resident_bytes=10**6)
    stack.train_data("pump", *series_data(200, seed=1))
    stack.train_data("pump", *series_data(200, seed=2), promote=False)
    stack.routing._replace([1], [Route(1, 1, Strategy.CANARY, WEIGHT, False, "pump", 1, 2)])
    stack.resident.load(stack.memory)
    rng = np.random.default_rng(4)
    for i in range(600):
        value = float(rng.normal(10, 2))
        run_async(stack.predictor.predict(point("pump", START + 300 * i, value)))
    assert answered_by_table(stack) == 599  # all but the request that loaded the candidate
    stack.resident.spill()
    rows = stack.stats.take()
    stable, candidate = window(rows, 1), window(rows, 2)
    assert min(stable.predictions, candidate.predictions) > 200
    # One observation a request, stable's as the candidate's (not one mean a row).
    assert sum(stable.latency) == stable.predictions
    assert sum(candidate.latency) == candidate.predictions
    raw: dict[str, Any] = {
        "strategy": "canary",
        "steps": [WEIGHT, 100],
        "analysis": {
            "minSamples": 50,
            "minStepSeconds": 0,
            "failureLimit": 1,
        },
    }
    spec = parse_rollout_spec(raw)
    now = datetime.now(UTC)
    decision = judge(spec, first_state(spec, now), stable, candidate, now)
    latency = {c.name: c for c in decision.checks}["latencyP99Ms"]
    assert latency.passed, latency
    assert decision.action is Action.ADVANCE, decision.reason
