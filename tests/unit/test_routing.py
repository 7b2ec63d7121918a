"""Rollout routing in the prediction seam, in process (REL-1, REL-2): shadow, canary, fleets."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from sigmawatch.registry.rollout_records import Driver, RolloutMember, RolloutRecord
from sigmawatch.rollouts import driver
from sigmawatch.rollouts.spec import parse_rollout_spec
from sigmawatch_inference.plotting import plot_data, render_page
from sigmawatch_inference.points import PointsRequest, Prediction
from sigmawatch_inference.routing import bucket
from support.data import START
from support.serving import Stack, run_async

TS = START + 300 * 500


def points(
    series_id: str, ts: int = TS, value: float = 10.0, key: str | None = None
) -> PointsRequest:
    return PointsRequest(
        series_id, None, np.array([ts], dtype=np.int64), np.array([value]), route_key=key
    )


def start(stack: Stack, members: list[RolloutMember], **spec: object) -> RolloutRecord:
    rollout = driver.start(
        stack.memory,
        parse_rollout_spec({"strategy": "canary"} | spec),
        members,
        driver=Driver.API,
        now=datetime.now(UTC),
        fleet=len(members) > 1,
    )
    stack.routing.sync(stack.memory)
    return rollout


def with_weight(stack: Stack, rollout: RolloutRecord, weight: int) -> None:
    state = dataclasses.replace(rollout.state, weight=weight)
    current = stack.memory.get_rollout(rollout.rollout_id)
    stack.memory.update_rollout(
        rollout.rollout_id, revision=current.revision, state=state, reason="t"
    )
    stack.routing.reload(stack.memory, rollout.rollout_id)


@pytest.fixture
def stack(tmp_path: Path) -> Stack:
    stack = Stack(tmp_path)
    stack.train("s1")
    stack.train("s1", seed=1, promote=False, detector={"kind": "mad"})
    return stack


def test_a_shadow_answers_from_stable_and_compares_the_candidate(stack: Stack) -> None:
    start(stack, [RolloutMember("s1", 1, 2)], strategy="shadow")
    answers = [
        run_async(stack.predictor.predict(points("s1", TS + i, 10.0 + i % 3))) for i in range(20)
    ]
    assert {a.version for a in answers} == {1}
    rows = {row.version: row for row in stack.stats.take()}
    assert (rows[1].predictions, rows[1].shadow_compared) == (20, 0)
    assert (rows[2].predictions, rows[2].shadow_compared) == (20, 20)
    assert rows[2].shadow_agreed == 20  # both call these points normal
    assert stack.counter("sigmawatch_rollout_points_total", role="shadow") == 20
    assert stack.counter("sigmawatch_shadow_comparisons_total", outcome="agreed") == 20


def test_a_canary_sends_its_weight_by_a_deterministic_key(stack: Stack) -> None:
    rollout = start(stack, [RolloutMember("s1", 1, 2)], steps=[30, 100])
    requests = [points("s1", TS + 300 * i) for i in range(2000)]
    answers = [run_async(stack.predictor.predict(r)) for r in requests]
    share = sum(a.version == 2 for a in answers) / len(answers)
    assert abs(share - 0.30) <= 0.03
    candidate_points = stack.counter("sigmawatch_rollout_points_total", role="candidate")
    assert candidate_points == sum(a.version == 2 for a in answers)
    again = [run_async(stack.predictor.predict(r)).version for r in requests[:50]]
    assert again == [a.version for a in answers[:50]]  # the same key, the same version
    sticky = {
        run_async(stack.predictor.predict(points("s1", TS + i, key="client-7"))).version
        for i in range(30)
    }
    assert len(sticky) == 1
    with_weight(stack, rollout, 0)
    assert {run_async(stack.predictor.predict(r)).version for r in requests[:200]} == {1}


def test_a_batch_is_routed_as_single_points_are(stack: Stack) -> None:
    start(stack, [RolloutMember("s1", 1, 2)], steps=[50, 100])
    requests = [points("s1", TS + 300 * i) for i in range(200)]
    single = [run_async(stack.predictor.predict(r)).version for r in requests]
    batch = run_async(stack.predictor.predict_many(requests))
    assert [a.version for a in batch if isinstance(a, Prediction)] == single


def test_a_fleet_canary_moves_whole_series(tmp_path: Path) -> None:
    stack = Stack(tmp_path)
    members = []
    for i in range(40):
        stack.train(f"f{i}", seed=i)
        stack.train(f"f{i}", seed=100 + i, promote=False)
        members.append(RolloutMember(f"f{i}", 1, 2))
    start(stack, members, steps=[50, 100])
    for member in members:
        versions = {
            run_async(stack.predictor.predict(points(member.series_id, TS + 300 * j))).version
            for j in range(10)
        }
        assert versions == {2 if bucket(member.series_id) < 50 else 1}


def test_a_candidate_that_cannot_load_leaves_stable_to_answer(stack: Stack) -> None:
    start(stack, [RolloutMember("s1", 1, 2)], steps=[100])
    pinned = PointsRequest("s1", 1, np.array([TS]), np.array([10.0]))
    run_async(stack.predictor.predict(pinned))  # stable is cached, the candidate is not
    stack.memory.down = True  # ... and the registry stops answering
    answer = run_async(stack.predictor.predict(points("s1")))
    assert answer.version == 1
    batch = run_async(stack.predictor.predict_many([points("s1", TS + 300)]))
    assert [a.version for a in batch if isinstance(a, Prediction)] == [1]
    failed = sum(row.errors for row in stack.stats.take() if row.version == 2)
    assert failed == 2  # counted against the candidate: its error rate is a rollout check


def test_explicit_versions_are_never_rerouted(stack: Stack) -> None:
    start(stack, [RolloutMember("s1", 1, 2)], steps=[100])
    pinned = PointsRequest("s1", 1, np.array([TS]), np.array([10.0]))
    assert run_async(stack.predictor.predict(pinned)).version == 1
    assert run_async(stack.predictor.predict(points("s1"))).version == 2


def test_routing_follows_the_registry(stack: Stack) -> None:
    rollout = start(stack, [RolloutMember("s1", 1, 2)], steps=[10, 100])
    assert stack.routing.route("s1") is not None
    assert stack.routing.sync(stack.memory) == 0  # nothing changed
    driver.abort(stack.memory, stack.memory.get_rollout(rollout.rollout_id), Driver.API)
    assert stack.routing.sync(stack.memory) == 1
    assert stack.routing.route("s1") is None
    assert run_async(stack.predictor.predict(points("s1"))).version == 1


def test_the_plot_marks_stable_and_candidate(stack: Stack) -> None:
    rollout = start(stack, [RolloutMember("s1", 1, 2)], steps=[25, 100])
    route = stack.routing.route("s1")
    versions = stack.memory.list_versions("s1")
    candidate = render_page(plot_data(versions[1], versions, stack.store, route))
    assert f"candidate · r{rollout.rollout_id} canary 25%" in candidate
    assert "v2 ◆" in candidate
    stable = render_page(plot_data(versions[0], versions, stack.store, route))
    assert f"stable · r{rollout.rollout_id} canary 25%" in stable
    plain = render_page(plot_data(versions[0], versions, stack.store, None))
    assert "canary" not in plain
