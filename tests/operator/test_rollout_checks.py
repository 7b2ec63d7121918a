"""What a ModelRollout is checked for before it starts, and how problems show: Degraded
with the code, one Warning Event per transition, checks again on the next interval."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from sigmawatch_operator.rollout_decide import Step, decide
from sigmawatch_operator.rollout_observe import observe
from sigmawatch_operator.rollout_spec import RolloutProblemError, parse_rollout_resource
from support.fake_jobs import condition
from support.fake_rollouts import FAST, Rollouts


@pytest.fixture
def plant(tmp_path: Path) -> Rollouts:
    return Rollouts(tmp_path)


def rollout(model: str = "pump", **spec: Any) -> dict[str, Any]:
    return {
        "modelRef": {"name": model},
        "candidate": {"version": "v2"},
        "strategy": "canary",
        "analysis": dict(FAST),
        **spec,
    }


def degraded(status: dict[str, Any]) -> tuple[str, str]:
    found = condition(status, "Degraded")
    assert found["status"] == "True", status
    return found["reason"], found["message"]


def test_a_missing_model_degrades_once_and_starts_when_the_model_appears(
    plant: Rollouts,
) -> None:
    plant.apply("early", rollout())
    status = plant.tick("early")
    assert degraded(status)[0] == "ModelNotFound"
    assert status["phase"] == "Pending"
    assert condition(status, "Progressing")["reason"] == "ModelNotFound"
    plant.later("early")
    plant.later("early")
    assert plant.reasons() == ["ModelNotFound"]  # per transition, not per tick
    plant.trained("pump", "pump_1")
    status = plant.later("early")
    assert (status["phase"], status["rollout"]) == ("Progressing", "r1")
    assert condition(status, "Degraded")["status"] == "False"
    assert plant.reasons() == ["ModelNotFound", "Started"]


def test_checks_before_the_start_wait_for_the_analysis_interval(plant: Rollouts) -> None:
    plant.apply("early", rollout(analysis={"intervalSeconds": 60}))
    plant.tick("early")
    body = copy.deepcopy(plant.objects["early"])
    plant.clock.advance(seconds=30)
    observed = observe(
        body, get_model=lambda ns, name: None, registry=plant.registry, now=plant.clock()
    )
    assert decide(observed).step is Step.WAIT
    body["metadata"]["generation"] += 1  # a spec change is checked at once
    observed = observe(
        body, get_model=lambda ns, name: None, registry=plant.registry, now=plant.clock()
    )
    assert decide(observed).step is Step.REPORT


@pytest.mark.parametrize(
    ("candidate", "code"),
    [
        ({"version": "v7"}, "INVALID_VERSION"),
        ({"version": "v1"}, "CandidateIsProduction"),
        ({"trainingRun": "no-such-job"}, "CandidateNotFound"),
        ({"detector": {"kind": "mad"}}, "CandidateNotFound"),
        ({"detector": {"kind": "mad", "params": {"window": 3}}}, "INVALID_DETECTOR"),
    ],
)
def test_a_candidate_that_cannot_be_rolled_out_degrades(
    plant: Rollouts, candidate: dict[str, Any], code: str
) -> None:
    plant.trained("pump", "pump_2")
    plant.apply("bad", rollout(candidate=candidate))
    reason, message = degraded(plant.tick("bad"))
    assert reason == code, message
    assert plant.registry.active_rollouts() == []


def test_a_series_pinned_by_its_model_degrades_until_the_pin_goes(plant: Rollouts) -> None:
    plant.trained("pump", "pump_3")
    models = plant.models
    spec = copy.deepcopy(models.models["pump"]["spec"])
    models.apply("pump", {**spec, "production": {"pinnedVersion": "v1"}})
    models.settle("pump")
    plant.apply("held", rollout())
    reason, message = degraded(plant.tick("held"))
    assert reason == "POINTER_HELD"
    assert "plant/pump" in message
    models.apply("pump", spec)  # the pin leaves the spec: the hold is released
    models.settle("pump")
    status = plant.later("held")
    assert status["rollout"] == "r1"
    assert plant.reasons() == ["POINTER_HELD", "Started"]


def test_series_the_model_does_not_name_are_refused(plant: Rollouts) -> None:
    plant.trained("fleet", ["line_a", "line_b"])
    plant.apply("which", rollout("fleet"))
    assert degraded(plant.tick("which"))[0] == "SeriesRequired"
    plant.apply("other", rollout("fleet", seriesId="line_z"))
    assert degraded(plant.tick("other"))[0] == "SeriesNotInModel"
    plant.apply("one", rollout("fleet", seriesId="line_b"))
    status = plant.tick("one")
    assert (status["seriesId"], status["candidate"]) == ("line_b", "v2")


def test_an_in_app_rollout_with_istio_fields_is_refused(plant: Rollouts) -> None:
    plant.trained("pump", "pump_4")
    plant.apply("mesh", rollout(trafficRouting="istio"))  # a model rollout, routed by Istio
    reason, message = degraded(plant.tick("mesh"))
    assert reason == "InvalidSpec"
    assert "names no model" in message
    assert plant.registry.active_rollouts() == []


def test_a_paused_rollout_starts_paused(plant: Rollouts) -> None:
    plant.trained("pump", "pump_5")
    plant.apply("later", rollout(paused=True))
    assert plant.tick("later")["phase"] == "Paused"
    assert plant.reasons() == ["Started", "Paused"]


def test_spec_changes_after_the_start_are_reported_not_applied(plant: Rollouts) -> None:
    plant.trained("pump", "pump_6")
    plant.apply("fixed", rollout())
    plant.tick("fixed")
    plant.apply("fixed", rollout(strategy="shadow"))
    status = plant.tick("fixed")
    assert status["strategy"] == "canary"
    assert "only spec.paused" in status["ignoredChange"]
    plant.later("fixed")
    assert plant.reasons() == ["Started", "SpecChangeIgnored"]
    plant.apply("fixed", rollout())  # back as it started
    assert "ignoredChange" not in plant.tick("fixed")


@pytest.mark.parametrize(
    ("spec", "code"),
    [
        ({"analysis": {"agreementThreshold": 2}}, "INVALID_ROLLOUT"),
        ({"analysis": {"intervalSecond": 1}}, "INVALID_ROLLOUT"),
        ({"steps": [50, 25, 100]}, "INVALID_ROLLOUT"),
        ({"candidate": {"version": "v1", "trainingRun": "j"}}, "InvalidSpec"),
        ({"seriesId": "a", "fleet": True}, "InvalidSpec"),
        ({"seriesId": "bad-id"}, "INVALID_SERIES_ID"),
    ],
)
def test_specs_the_schema_lets_through_are_still_checked(spec: dict[str, Any], code: str) -> None:
    with pytest.raises(RolloutProblemError) as refused:
        parse_rollout_resource({**rollout(), **spec})
    assert refused.value.problem[0] == code


def test_the_defaults_are_cores(plant: Rollouts) -> None:
    parsed = parse_rollout_resource(
        {"modelRef": {"name": "m"}, "candidate": {"version": "v2"}, "strategy": "canary"}
    )
    assert parsed.spec.steps == (5, 25, 50, 100)
    assert parsed.spec.analysis.interval_seconds == 30
    assert (parsed.routing, parsed.paused, parsed.fleet) == ("inApp", False, False)
