"""The ModelRollout controller in process: shadow and canary to promotion, rollback on a
failing check, holding on too little traffic, failing past maxDuration, pause, delete,
restart, fleets (REL-1..5, OBS-2)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sigmawatch.registry.rollout_records import Driver, RolloutMember
from sigmawatch.rollouts import driver
from sigmawatch.rollouts.policy import Phase
from sigmawatch.rollouts.spec import parse_rollout_spec
from support.fake_jobs import condition
from support.fake_rollouts import FAST, Rollouts


@pytest.fixture
def plant(tmp_path: Path) -> Rollouts:
    return Rollouts(tmp_path)


def rollout(model: str, strategy: str = "canary", **spec: Any) -> dict[str, Any]:
    return {
        "modelRef": {"name": model},
        "candidate": {"version": "v2"},
        "strategy": strategy,
        "analysis": dict(FAST),
        **spec,
    }


def holder(plant: Rollouts, series_id: str) -> str | None:
    series = plant.registry.get_series(series_id)
    assert series is not None
    return series.holder


def test_an_agreeing_shadow_is_promoted_and_releases_the_pointer(plant: Rollouts) -> None:
    plant.trained("pump", "pump_1")
    plant.apply("pump-shadow", rollout("pump", "shadow"))
    status = plant.tick("pump-shadow")
    assert (status["phase"], status["rollout"], status["weight"]) == ("Shadowing", "r1", 0)
    assert (status["seriesId"], status["stable"], status["candidate"]) == ("pump_1", "v1", "v2")
    assert condition(status, "Progressing")["status"] == "True"
    assert holder(plant, "pump_1") == "rollout:1"
    plant.traffic("pump_1", 1)
    plant.traffic("pump_1", 2, agreed=198)
    status = plant.later("pump-shadow")
    assert status["phase"] == "Promoted"
    assert status["weight"] == 100
    assert status["finishedAt"] is not None
    checks = {c["name"]: c for c in status["lastAnalysis"]["checks"]}
    assert checks["agreement"] == {
        "name": "agreement",
        "value": 0.99,
        "limit": 0.95,
        "passed": True,
        "note": "",
    }
    assert status["lastAnalysis"]["action"] == "promote"
    assert condition(status, "Promoted")["status"] == "True"
    assert condition(status, "Progressing")["reason"] == "Promoted"
    assert plant.registry.get_production("pump_1").name == "v2"
    assert holder(plant, "pump_1") is None
    assert plant.reasons() == ["Started", "Promoted"]
    assert plant.sample("sigmawatch_operator_rollouts", phase="Promoted") == 1
    assert (
        plant.sample("sigmawatch_operator_rollout_agreement", rollout="plant/pump-shadow") == 0.99
    )
    assert plant.sample("sigmawatch_operator_rollout_promotion_seconds_count") == 1
    plant.later("pump-shadow")  # ended: nothing more happens
    assert plant.reasons() == ["Started", "Promoted"]


def test_a_healthy_canary_walks_every_step_then_promotes(plant: Rollouts) -> None:
    plant.trained("pump", "pump_2")
    plant.apply("pump-canary", rollout("pump"))
    weights = [plant.tick("pump-canary")["weight"]]
    for _ in range(4):
        plant.clock.advance(seconds=2)
        plant.traffic("pump_2", 1)
        plant.traffic("pump_2", 2)
        status = plant.tick("pump-canary")
        weights.append(status["weight"])
        assert (
            plant.sample("sigmawatch_operator_rollout_weight_percent", rollout="plant/pump-canary")
            == status["weight"]
        )
    assert weights == [5, 25, 50, 100, 100]
    assert status["phase"] == "Promoted"
    assert status["steps"] == [5, 25, 50, 100]
    assert plant.registry.get_production("pump_2").name == "v2"
    assert plant.reasons() == ["Started", "Advanced", "Advanced", "Advanced", "Promoted"]
    advanced = [e.message for e in plant.events if e.reason == "Advanced"]
    assert advanced[0].startswith("advanced to 25%")
    phases = [t.phase for t in plant.registry.transitions(1)]
    assert phases == ["Progressing"] * 4 + ["Promoted"]


def test_a_failing_check_rolls_back_after_failure_limit_and_stable_keeps_serving(
    plant: Rollouts,
) -> None:
    plant.trained("pump", "pump_3")
    plant.apply("pump-canary", rollout("pump"))
    plant.tick("pump-canary")
    for expected in ("Progressing", "RolledBack"):
        plant.clock.advance(seconds=2)
        plant.traffic("pump_3", 1)
        plant.traffic("pump_3", 2, errors=60)
        status = plant.tick("pump-canary")
        assert status["phase"] == expected
        assert plant.registry.get_production("pump_3").name == "v1"
    assert status["weight"] == 0
    assert "errorRate" in status["reason"]
    assert "2 consecutive intervals" in status["reason"]
    assert condition(status, "RolledBack")["status"] == "True"
    assert condition(status, "RolledBack")["message"] == status["reason"]
    failing = [c for c in status["lastAnalysis"]["checks"] if c["passed"] is False]
    assert [c["name"] for c in failing] == ["errorRate"]
    assert holder(plant, "pump_3") is None
    assert plant.reasons() == ["Started", "RolledBack"]
    assert plant.events[-1].type == "Warning"
    assert plant.sample("sigmawatch_operator_rollbacks_total", reason="errorRate") == 1


def test_too_little_traffic_holds_and_says_why(plant: Rollouts) -> None:
    plant.trained("pump", "pump_4")
    plant.apply("pump-canary", rollout("pump"))
    plant.tick("pump-canary")
    plant.clock.advance(seconds=2)
    plant.traffic("pump_4", 2, n=10)
    status = plant.tick("pump-canary")
    assert (status["phase"], status["weight"]) == ("Progressing", 5)
    assert status["reason"].startswith("waiting: 10 of 100 samples")
    assert status["lastAnalysis"]["action"] == "hold"
    assert condition(status, "Progressing")["message"] == status["reason"]


def test_a_rollout_not_promoted_within_max_duration_fails_back_to_stable(
    plant: Rollouts,
) -> None:
    plant.trained("pump", "pump_5")
    spec = rollout("pump", "shadow")
    spec["analysis"]["maxDurationSeconds"] = 5
    plant.apply("pump-shadow", spec)
    plant.tick("pump-shadow")
    plant.traffic("pump_5", 2, agreed=100)  # half the points disagree: never promoted
    assert plant.later("pump-shadow")["phase"] == "Shadowing"
    status = plant.later("pump-shadow", seconds=5)
    assert status["phase"] == "Failed"
    assert "maxDurationSeconds" in status["reason"]
    assert condition(status, "Progressing")["reason"] == "Failed"
    assert plant.registry.get_production("pump_5").name == "v1"
    assert plant.reasons() == ["Started", "Failed"]
    assert plant.sample("sigmawatch_operator_rollbacks_total", reason="maxDuration") == 1


def test_pausing_holds_the_step_and_resuming_continues(plant: Rollouts) -> None:
    plant.trained("pump", "pump_6")
    plant.apply("pump-canary", rollout("pump"))
    plant.tick("pump-canary")
    plant.apply("pump-canary", rollout("pump", paused=True))
    status = plant.tick("pump-canary")
    assert status["phase"] == "Paused"
    assert condition(status, "Progressing")["reason"] == "Paused"
    revision = plant.registry.get_rollout(1).revision
    plant.traffic("pump_6", 2)
    status = plant.later("pump-canary")
    assert (status["phase"], status["weight"]) == ("Paused", 5)
    assert plant.registry.get_rollout(1).revision == revision  # not analysed
    assert not status.get("ignoredChange")  # pausing is the change that applies
    plant.apply("pump-canary", rollout("pump", paused=False))
    assert plant.tick("pump-canary")["phase"] == "Progressing"
    plant.clock.advance(seconds=2)
    plant.traffic("pump_6", 1)
    plant.traffic("pump_6", 2)
    assert plant.tick("pump-canary")["weight"] == 25
    assert plant.reasons() == ["Started", "Paused", "Resumed", "Advanced"]


def test_deleting_an_active_rollout_aborts_it(plant: Rollouts) -> None:
    plant.trained("pump", "pump_7")
    plant.apply("pump-canary", rollout("pump"))
    plant.tick("pump-canary")
    assert holder(plant, "pump_7") == "rollout:1"
    plant.delete("pump-canary")
    record = plant.registry.get_rollout(1)
    assert (record.state.phase, record.state.weight) == (Phase.ABORTED, 0)
    assert record.reason == "ModelRollout deleted"
    assert holder(plant, "pump_7") is None
    assert plant.registry.get_production("pump_7").name == "v1"
    assert plant.reasons()[-1] == "Aborted"
    assert plant.sample("sigmawatch_operator_rollbacks_total", reason="aborted") == 1
    assert plant.sample("sigmawatch_operator_rollouts", phase="Progressing") == 0
    # A new ModelRollout of the same name, created later, starts a new rollout.
    plant.clock.advance(seconds=2)
    plant.apply("pump-canary", rollout("pump"))
    assert plant.tick("pump-canary")["rollout"] == "r2"


def test_a_restarted_operator_resumes_at_the_stored_step(plant: Rollouts) -> None:
    plant.trained("pump", "pump_8")
    plant.apply("pump-canary", rollout("pump"))
    plant.tick("pump-canary")
    plant.clock.advance(seconds=2)
    plant.traffic("pump_8", 1)
    plant.traffic("pump_8", 2)
    assert plant.tick("pump-canary")["weight"] == 25
    restarted = plant.replica()
    plant.clock.advance(seconds=2)
    plant.traffic("pump_8", 1)
    plant.traffic("pump_8", 2)
    status = plant.tick("pump-canary", restarted)
    assert (status["rollout"], status["step"], status["weight"]) == ("r1", 2, 50)
    assert len(plant.registry.active_rollouts()) == 1


def test_a_lost_status_adopts_the_running_rollout(plant: Rollouts) -> None:
    plant.trained("pump", "pump_9")
    plant.apply("pump-canary", rollout("pump"))
    plant.tick("pump-canary")
    plant.objects["pump-canary"]["status"] = {}
    status = plant.tick("pump-canary")
    assert status["rollout"] == "r1"
    assert plant.reasons() == ["Started", "Adopted"]


def test_a_fleet_rollout_of_a_training_run_moves_every_series(plant: Rollouts) -> None:
    ids = ["fleet_a", "fleet_b", "fleet_c"]
    job = plant.trained("fleet", ids)
    spec = rollout("fleet", "shadow", fleet=True, candidate={"trainingRun": job})
    plant.apply("fleet-shadow", spec)
    status = plant.tick("fleet-shadow")
    assert (status["fleet"], status["members"], status.get("seriesId")) == (True, 3, None)
    for series_id in ids:
        plant.traffic(series_id, 1, n=50)
        plant.traffic(series_id, 2, n=50, agreed=50)
    status = plant.later("fleet-shadow")
    assert status["phase"] == "Promoted"
    assert [plant.registry.get_production(s).name for s in ids] == ["v2"] * 3


def test_a_candidate_with_a_worse_false_positive_rate_on_labels_is_rolled_back(
    plant: Rollouts,
) -> None:
    plant.trained("pump", "pump_10")
    # v3: a z-score threshold of 1, flagging points v1 (threshold 3) calls normal.
    sensitive = {"kind": "zscore", "params": {"threshold": 1}}
    plant.trained("pump", "pump_10", versions=1, first=2, detector=sensitive)
    analysis = {**FAST, "minLabels": 20, "checks": {"falsePositiveRate": {"maxIncrease": 0.05}}}
    spec = rollout("pump", candidate={"detector": sensitive}, analysis=analysis)
    plant.realign()
    plant.apply("pump-canary", spec)
    assert plant.tick("pump-canary")["candidate"] == "v3"
    stamps = 2_000_000_000 + 300 * np.arange(40, dtype=np.int64)
    plant.registry.record_feedback(
        "pump_10", stamps, np.full(40, 14.0), np.zeros(40, dtype=np.bool_)
    )
    for _ in range(2):
        plant.clock.advance(seconds=2)
        plant.traffic("pump_10", 1)
        plant.traffic("pump_10", 3)
        status = plant.tick("pump-canary")
    assert status["phase"] == "RolledBack"
    assert "falsePositiveRate" in status["reason"]
    assert plant.registry.get_production("pump_10").name == "v1"


def test_the_operator_never_drives_a_rollout_started_through_the_api(plant: Rollouts) -> None:
    plant.trained("pump", "pump_11")
    spec = parse_rollout_spec({"strategy": "shadow"})
    api = driver.start(
        plant.registry,
        spec,
        [RolloutMember("pump_11", 1, 2)],
        driver=Driver.API,
        now=datetime.now(UTC),
    )
    plant.apply("pump-shadow", rollout("pump", "shadow"))
    status = plant.tick("pump-shadow")
    assert condition(status, "Degraded")["reason"] == "ROLLOUT_IN_PROGRESS"
    assert status["phase"] == "Pending"
    # Even pointed at it, the controller leaves it alone, and deleting does not abort it.
    plant.objects["pump-shadow"]["status"]["rollout"] = api.name
    status = plant.later("pump-shadow")
    assert condition(status, "Degraded")["reason"] == "ROLLOUT_DRIVER_MISMATCH"
    plant.delete("pump-shadow")
    after = plant.registry.get_rollout(api.rollout_id)
    assert (after.revision, after.state.phase) == (api.revision, Phase.SHADOWING)
