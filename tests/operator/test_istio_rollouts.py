"""Istio mode in process: a ModelRollout moves a VirtualService route between the stable
and candidate inference Deployments, judged on what each track's pods count (OPS-2,
REL-2, REL-4): every step, rollback, drift, deletion, and the checks before a start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sigmawatch.rollouts.policy import Phase
from sigmawatch_operator.rollout_spec import RolloutProblemError, parse_rollout_resource
from support.fake_istio import virtual_service
from support.fake_jobs import NAMESPACE, condition
from support.fake_rollouts import FAST, Rollouts

VS = "sigmawatch-inference"


@pytest.fixture
def plant(tmp_path: Path) -> Rollouts:
    plant = Rollouts(tmp_path)
    plant.mesh.create(NAMESPACE, virtual_service())
    return plant


def istio(**spec: Any) -> dict[str, Any]:
    return {
        "trafficRouting": "istio",
        "istio": {"virtualService": VS, "route": "inference"},
        "strategy": "canary",
        "analysis": dict(FAST),
        **spec,
    }


def weights(plant: Rollouts) -> tuple[int, int]:
    found = plant.mesh.weights(NAMESPACE)
    return found["stable"], found["candidate"]


def step(plant: Rollouts, name: str = "image", **traffic: Any) -> dict[str, Any]:
    """An analysis interval passes with traffic on both tracks, then the timer ticks."""
    plant.clock.advance(seconds=2)
    plant.tracks(**traffic)
    return plant.tick(name)


def test_a_healthy_istio_canary_moves_the_route_at_every_step(plant: Rollouts) -> None:
    plant.apply("image", istio())
    status = plant.tick("image")
    assert (status["phase"], status["weight"], status["members"]) == ("Progressing", 5, 0)
    assert weights(plant) == (95, 5)
    assert plant.mesh.holder(NAMESPACE) == "r1"
    assert status["istio"] == {
        "virtualService": VS,
        "route": "inference",
        "stableSubset": "stable",
        "candidateSubset": "candidate",
        "weights": {"stable": 95, "candidate": 5},
        "heldBy": "r1",
    }
    seen = [weights(plant)]
    for _ in range(4):
        status = step(plant)
        seen.append(weights(plant))
        assert status["istio"]["weights"]["candidate"] == status["weight"]
    assert seen == [(95, 5), (75, 25), (50, 50), (0, 100), (0, 100)]
    assert status["phase"] == "Promoted"
    assert condition(status, "Promoted")["status"] == "True"
    assert plant.reasons() == ["Started", "Advanced", "Advanced", "Advanced", "Promoted"]
    assert "the candidate track (route inference of VirtualService" in plant.events[0].message
    record = plant.registry.get_rollout(1)
    assert record.istio is not None
    assert (record.istio.namespace, record.members) == (NAMESPACE, 0)
    assert plant.registry.routes() == []  # nothing for the pods to route in-app
    # Ended and promoted, it keeps candidate 100 on the route.
    patches = plant.mesh.patches
    plant.later("image")
    assert (weights(plant), plant.mesh.patches) == ((0, 100), patches)


def test_a_candidate_track_with_errors_rolls_back_and_the_route_returns_to_stable(
    plant: Rollouts,
) -> None:
    plant.apply("image", istio())
    plant.tick("image")
    assert step(plant)["weight"] == 25
    assert weights(plant) == (75, 25)
    status = step(plant, errors=60)
    assert (status["phase"], weights(plant)) == ("Progressing", (75, 25))  # 1 of 2
    status = step(plant, errors=60)
    assert (status["phase"], status["weight"]) == ("RolledBack", 0)
    assert weights(plant) == (100, 0)
    assert status["istio"]["weights"] == {"stable": 100, "candidate": 0}
    assert "errorRate" in status["reason"]
    failing = [c["name"] for c in status["lastAnalysis"]["checks"] if c["passed"] is False]
    assert failing == ["errorRate"]
    assert plant.reasons() == ["Started", "Advanced", "RolledBack"]
    assert plant.sample("sigmawatch_operator_rollbacks_total", reason="errorRate") == 1


def test_an_edited_route_is_set_back_before_the_next_analysis(plant: Rollouts) -> None:
    plant.apply("image", istio())
    plant.tick("image")
    plant.mesh.edit(NAMESPACE, VS, {"stable": 100, "candidate": 0})  # someone's kubectl edit
    revision = plant.registry.get_rollout(1).revision
    plant.clock.advance(seconds=2)
    plant.tracks()
    status = plant.tick("image")
    assert weights(plant) == (95, 5)
    assert status["weight"] == 5
    assert plant.registry.get_rollout(1).revision == revision  # not judged on that traffic
    repaired = [e for e in plant.events if e.reason == "RouteRepaired"]
    assert len(repaired) == 1
    assert repaired[0].type == "Warning"
    assert "stable 100% / candidate 0%" in repaired[0].message
    assert step(plant)["weight"] == 25  # analysed again once the route is right
    # After the end too: a promoted rollout's route is held at candidate 100.
    step(plant)
    step(plant)
    assert step(plant)["phase"] == "Promoted"
    plant.mesh.edit(NAMESPACE, VS, {"stable": 50, "candidate": 50})
    plant.later("image")
    assert weights(plant) == (0, 100)
    assert plant.reasons().count("RouteRepaired") == 2


def test_deleting_an_active_istio_rollout_aborts_it_and_resets_the_route(
    plant: Rollouts,
) -> None:
    plant.apply("image", istio())
    plant.tick("image")
    step(plant)
    assert weights(plant) == (75, 25)
    plant.delete("image")
    record = plant.registry.get_rollout(1)
    assert (record.state.phase, record.state.weight) == (Phase.ABORTED, 0)
    assert weights(plant) == (100, 0)
    assert plant.mesh.holder(NAMESPACE) is None
    assert plant.events[-1].reason == "Aborted"
    assert "the stable track takes 100%" in plant.events[-1].message


def test_deleting_a_promoted_istio_rollout_hands_the_route_back_to_stable(
    plant: Rollouts,
) -> None:
    plant.apply("image", istio(steps=[50, 100]))
    plant.tick("image")
    step(plant)
    assert step(plant)["phase"] == "Promoted"
    assert weights(plant) == (0, 100)
    plant.delete("image")  # once the stable Deployment runs the new image
    assert weights(plant) == (100, 0)
    assert plant.mesh.holder(NAMESPACE) is None


def test_a_newer_rollout_takes_the_route_from_an_ended_one(plant: Rollouts) -> None:
    plant.apply("first", istio())
    plant.tick("first")
    step(plant, "first", errors=60)
    assert step(plant, "first", errors=60)["phase"] == "RolledBack"
    plant.apply("second", istio())
    status = plant.tick("second")
    assert (status["rollout"], weights(plant)) == ("r2", (95, 5))
    assert plant.mesh.holder(NAMESPACE) == "r2"
    status = plant.later("first")  # the ended one leaves the route alone now
    assert (weights(plant), status["istio"]["heldBy"]) == ((95, 5), "r2")
    plant.delete("first")
    assert weights(plant) == (95, 5)
    assert plant.registry.get_rollout(2).active


def test_one_istio_rollout_runs_at_a_time(plant: Rollouts) -> None:
    plant.apply("first", istio())
    plant.tick("first")
    plant.apply("second", istio())
    status = plant.tick("second")
    found = condition(status, "Degraded")
    assert (found["status"], found["reason"]) == ("True", "IstioRolloutInProgress")
    assert "plant/first" in found["message"]
    plant.delete("first")
    assert plant.later("second")["rollout"] == "r2"


def test_a_missing_or_unusable_route_keeps_the_rollout_from_starting(plant: Rollouts) -> None:
    plant.apply("other", istio(istio={"virtualService": "nope", "route": "inference"}))
    status = plant.tick("other")
    assert condition(status, "Degraded")["reason"] == "VirtualServiceNotFound"
    assert status["phase"] == "Pending"
    plant.apply("subset", istio(istio={"virtualService": VS, "route": "inference",
                                       "candidateSubset": "canary"}))  # fmt: skip
    found = condition(plant.tick("subset"), "Degraded")
    assert found["reason"] == "RouteNotUsable"
    assert "'stable' and 'canary'" in found["message"]
    plant.apply("route", istio(istio={"virtualService": VS, "route": "api"}))
    assert condition(plant.tick("route"), "Degraded")["reason"] == "RouteNotUsable"
    assert plant.registry.active_rollouts() == []
    plant.mesh.create(NAMESPACE, virtual_service("nope"))
    assert plant.later("other")["rollout"] == "r1"  # checked again each interval


def test_a_refused_patch_degrades_and_holds_the_analysis(plant: Rollouts) -> None:
    plant.mesh.refuse = True
    plant.apply("image", istio())
    status = plant.tick("image")
    assert condition(status, "Degraded")["reason"] == "VirtualServiceRejected"
    assert weights(plant) == (100, 0)
    status = step(plant)
    assert status["weight"] == 5  # never judged on a split the route does not have
    plant.mesh.refuse = False
    assert weights(plant) == (100, 0)
    status = plant.tick("image")
    assert condition(status, "Degraded")["status"] == "False"
    assert weights(plant) == (95, 5)


def test_a_restarted_operator_continues_the_route_at_the_stored_step(plant: Rollouts) -> None:
    plant.apply("image", istio())
    plant.tick("image")
    step(plant)
    restarted = plant.replica()
    plant.clock.advance(seconds=2)
    plant.tracks()
    status = plant.tick("image", restarted)
    assert (status["step"], status["weight"], weights(plant)) == (2, 50, (50, 50))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"modelRef": {"name": "m"}}, "names no model: drop modelRef"),
        ({"candidate": {"version": "v2"}}, "drop candidate"),
        ({"strategy": "shadow"}, "needs strategy: canary"),
        ({"istio": {"virtualService": VS}}, "needs istio.virtualService and route"),
        (
            {"istio": {"virtualService": VS, "route": "r", "stableSubset": "candidate"}},
            "must differ",
        ),
        ({"analysis": {**FAST, "primaryMetric": "f1"}}, "labels belong to model versions"),
        ({"analysis": {**FAST, "checks": {"f1": {"maxDecrease": 0.1}}}}, "f1"),
        ({"trafficRouting": "inApp"}, "istio is for trafficRouting: istio only"),
    ],
)
def test_istio_specs_are_checked(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(RolloutProblemError) as refused:
        parse_rollout_resource({**istio(), **spec})
    code, text = refused.value.problem
    assert (code, message in text) == ("InvalidSpec", True), text
