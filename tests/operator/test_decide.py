"""`decide` on its own: plain values in, a plan out, no I/O (the reconcile's logic)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from sigmawatch.registry import RunSummary, SeriesRecord, Writer
from sigmawatch_operator.decide import decide
from sigmawatch_operator.jobs import JobState, job_name
from sigmawatch_operator.model_spec import parse_spec
from sigmawatch_operator.observe import ModelRef, Observed
from sigmawatch_operator.recorded import LastJob, Recorded

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CREATED = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
MODEL = ModelRef("pump-1", "plant", "uid-1", 3, CREATED)
SPEC = parse_spec({"series": {"id": "pump_1"}, "source": {"dataset": {}}})
KEY = SPEC.training_key()
PIN = Writer.pin("plant", "pump-1")


def observed(**changes: object) -> Observed:
    base = Observed(MODEL, SPEC, None, Recorded(), (), {}, None, 0, NOW)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def job(name: str, *, finished: bool, ok: bool = True) -> JobState:
    done = "2026-11-25T11:00:00Z" if finished else None
    return JobState(
        name, KEY[:16], "2026-11-25T10:00:00Z", finished, finished and ok, None, None, done
    )


def test_a_new_model_starts_a_job_named_from_its_inputs_and_creation() -> None:
    plan = decide(observed())
    assert plan.start is not None
    assert plan.start.reason == "Initial"
    assert plan.start.name == job_name("pump-1", KEY, CREATED.timestamp())
    assert decide(observed()) == plan  # the same on every replica, every time
    assert plan.retain is None  # nothing to archive while a run may register versions


def test_a_running_job_is_followed_not_duplicated() -> None:
    running = job("pump-1-a", finished=False)
    recorded = Recorded(last_job=LastJob("pump-1-a", "Running"))
    plan = decide(observed(jobs=(running,), recorded=recorded))
    assert (plan.follow, plan.start, plan.record) == (running, None, None)


def test_a_finished_job_is_recorded_and_counts_as_the_trained_inputs() -> None:
    finished = job("pump-1-a", finished=True)
    summary = RunSummary(total=1, created=1)
    plan = decide(
        observed(
            jobs=(finished,),
            recorded=Recorded(last_job=LastJob("pump-1-a", "Running")),
            summaries={"pump-1-a": summary},
        )
    )
    assert plan.record is not None
    assert (plan.record.summary, plan.record.finished_at) == (summary, "2026-11-25T11:00:00Z")
    assert plan.start is None  # the recorded run trained exactly these inputs
    assert plan.retain is not None  # idle now: the spec's keepVersions applies
    assert (plan.retain.series_ids, plan.retain.keep) == (("pump_1",), 10)


def test_a_pin_is_enforced_until_held_and_released_when_dropped() -> None:
    pinned = parse_spec(
        {
            "series": {"id": "pump_1"},
            "source": {"dataset": {}},
            "production": {"pinnedVersion": "v1"},
        }
    )
    trained = Recorded(trained_key=pinned.training_key()[:16], applied_retention=10)
    moved = SeriesRecord("pump_1", 3, 3, 0)
    plan = decide(observed(spec=pinned, series=moved, recorded=trained))
    assert plan.pin is not None
    assert (plan.pin.version, plan.pin.writer) == (1, PIN)
    held = dataclasses.replace(moved, production_version=1, holder=PIN.holder)
    assert decide(observed(spec=pinned, series=held, recorded=trained)).pin is None
    unpinned = decide(observed(series=held, recorded=trained))
    assert unpinned.release is not None
    assert unpinned.release.writer == PIN
    other = dataclasses.replace(held, holder="pin:plant/someone-else")
    assert decide(observed(series=other, recorded=trained)).release is None


def test_a_pin_waits_for_the_first_version() -> None:
    pinned = parse_spec(
        {
            "series": {"id": "pump_1"},
            "source": {"dataset": {}},
            "production": {"pinnedVersion": "v2"},
        }
    )
    assert decide(observed(spec=pinned)).pin is None


def test_a_selector_plans_no_retention_of_its_own() -> None:
    selector = parse_spec({"series": {"selector": {"prefix": "p_"}}, "source": {"dataset": {}}})
    recorded = Recorded(trained_key=selector.training_key()[:16])
    plan = decide(observed(spec=selector, recorded=recorded))
    assert (plan.start, plan.retain) == (None, None)


def test_an_invalid_spec_plans_nothing() -> None:
    plan = decide(observed(spec=None, invalid="INVALID_VERSION: version must look like v1"))
    assert plan == type(plan)()
