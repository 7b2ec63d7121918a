"""Level-based decisions: when to train, which Job to follow or record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sigmawatch_operator.conditions import condition, merge_conditions
from sigmawatch_operator.jobs import JobState
from sigmawatch_operator.model_spec import parse_spec
from sigmawatch_operator.planning import next_training_at, pick_jobs, training_due
from sigmawatch_operator.recorded import Recorded
from sigmawatch_operator.status_patch import merge_patch

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SPEC = parse_spec({"series": {"id": "s"}, "source": {"dataset": {}}, "retrain": {"interval": "6h"}})
KEY = SPEC.training_key()[:16]


def recorded_as(status: dict[str, Any]) -> Recorded:
    return Recorded.from_status(status)


def job(name: str, *, finished: bool, ok: bool = True) -> JobState:
    return JobState(
        name, KEY, f"2026-11-25T0{name[-1]}:00:00Z", finished, finished and ok, None, None, None
    )


def test_training_is_due_first_on_changes_and_on_schedule() -> None:
    assert training_due(SPEC, recorded_as({}), NOW) == "Initial"
    assert training_due(SPEC, recorded_as({"trainedKey": "old"}), NOW) == "SpecChanged"
    fresh = {"trainedKey": KEY, "lastTrainedAt": "2026-11-25T11:00:00Z"}
    assert training_due(SPEC, recorded_as(fresh), NOW) is None
    assert (
        training_due(SPEC, recorded_as(fresh), NOW + timedelta(hours=5, minutes=1)) == "Scheduled"
    )
    assert next_training_at(SPEC, recorded_as(fresh)) == "2026-11-25T17:00:00Z"


def test_a_failed_run_is_not_retried_in_a_loop() -> None:
    # Recording a failed Job sets trainedKey: only a spec change or the schedule retrains.
    after_failure = {"trainedKey": KEY, "lastTrainedAt": "2026-11-25T11:59:00Z"}
    assert training_due(SPEC, recorded_as(after_failure), NOW) is None


def test_follow_the_running_job_and_record_finished_ones_once() -> None:
    assert pick_jobs(recorded_as({}), []) == pick_jobs(recorded_as({}), [])
    first = pick_jobs(recorded_as({}), [job("j1", finished=False)])
    assert first.active is not None
    assert first.to_record is None
    done = pick_jobs(
        recorded_as({"lastJob": {"name": "j1", "startedAt": "x"}}), [job("j1", finished=True)]
    )
    assert done.active is None
    assert done.to_record is not None
    assert done.to_record.name == "j1"
    recorded = {"lastJob": {"name": "j1", "finishedAt": "y"}}
    assert pick_jobs(recorded_as(recorded), [job("j1", finished=True)]).to_record is None


def test_older_jobs_are_never_recorded_over_newer_ones() -> None:
    status = {"lastJob": {"name": "j2", "startedAt": "x"}}
    picked = pick_jobs(recorded_as(status), [job("j1", finished=True), job("j2", finished=False)])
    assert picked.active is not None
    assert picked.active.name == "j2"
    assert picked.to_record is None


def test_a_job_finished_while_the_operator_was_away_is_recorded() -> None:
    # The status never heard of j3 (crash between create and status write).
    status = {"lastJob": {"name": "j2", "finishedAt": "y"}}
    picked = pick_jobs(recorded_as(status), [job("j2", finished=True), job("j3", finished=True)])
    assert picked.to_record is not None
    assert picked.to_record.name == "j3"


def test_condition_transition_times_move_only_on_flips() -> None:
    first = merge_conditions(
        None, [condition("Ready", False, "NotTrained")], now="t1", generation=1
    )
    same = merge_conditions(first, [condition("Ready", False, "Training")], now="t2", generation=2)
    flipped = merge_conditions(same, [condition("Ready", True, "Serving")], now="t3", generation=2)
    assert first[0]["lastTransitionTime"] == "t1"
    assert same[0]["lastTransitionTime"] == "t1"
    assert same[0]["reason"] == "Training"
    assert flipped[0]["lastTransitionTime"] == "t3"
    assert flipped[0]["observedGeneration"] == 2


def test_status_patches_null_what_was_dropped() -> None:
    old = {"lastJob": {"name": "j1", "finishedAt": "t", "message": "done"}, "gone": 1, "same": 2}
    new = {"lastJob": {"name": "j2", "phase": "Running"}, "same": 2}
    assert merge_patch(old, new) == {
        "gone": None,
        "lastJob": {"name": "j2", "phase": "Running", "finishedAt": None, "message": None},
    }
    assert merge_patch(new, new) == {}
    # The API server drops a null it stores; sending it again every tick patched nothing.
    assert merge_patch({"same": 2}, {"same": 2, "nextTrainingAt": None}) == {}
