"""The rollout policy on its own: plain values in, the next action out (REL-1..5)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.rollouts.policy import Action, Phase, RolloutState, first_state, judge
from sigmawatch.rollouts.spec import RolloutSpec, parse_rollout_spec
from sigmawatch.rollouts.window import N_LATENCY, Confusion, VersionWindow, latency_bucket

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
NO_LABELS = Confusion()


def spec(**raw: Any) -> RolloutSpec:
    analysis = {"minSamples": 100, "minStepSeconds": 10, "failureLimit": 2} | raw.pop(
        "analysis", {}
    )
    return parse_rollout_spec({"strategy": "canary", "analysis": analysis} | raw)


def window(
    n: int = 1000,
    *,
    anomalies: int = 10,
    errors: int = 0,
    ms: float = 0.2,
    compared: int = 0,
    agreed: int = 0,
    labeled: Confusion = NO_LABELS,
) -> VersionWindow:
    latency = [0] * N_LATENCY
    latency[latency_bucket(ms)] = n
    return VersionWindow(n, anomalies, errors, 0, tuple(latency), compared, agreed, labeled)


def later(state: RolloutState, seconds: float) -> datetime:
    return state.step_started_at + timedelta(seconds=seconds)


def test_a_healthy_canary_walks_its_steps_then_promotes() -> None:
    canary = spec()
    state = first_state(canary, T0)
    assert (state.phase, state.weight) == (Phase.PROGRESSING, 5)
    weights = []
    for _ in range(4):
        decision = judge(canary, state, window(), window(), later(state, 11))
        state = decision.state
        weights.append(state.weight)
    assert weights == [25, 50, 100, 100]
    assert decision.action is Action.PROMOTE
    assert state.phase is Phase.PROMOTED


def test_nothing_is_decided_before_enough_samples_and_time() -> None:
    canary = spec()
    state = first_state(canary, T0)
    few = judge(canary, state, window(), window(99), later(state, 60))
    assert few.action is Action.HOLD
    assert "99 of 100 samples" in few.reason
    early = judge(canary, state, window(), window(5000, errors=4000), later(state, 5))
    assert early.action is Action.HOLD  # even a terrible candidate waits for its step time


def test_a_failing_check_rolls_back_after_the_failure_limit() -> None:
    canary = spec()
    state = first_state(canary, T0)
    bad = window(errors=100)  # 10% errors against stable's 0%
    first = judge(canary, state, window(), bad, later(state, 11))
    assert first.action is Action.HOLD
    assert "errorRate" in first.reason
    assert "1 of 2" in first.reason
    second = judge(canary, first.state, window(), bad, later(state, 12))
    assert second.action is Action.ROLLBACK
    assert (second.state.phase, second.state.weight) == (Phase.ROLLED_BACK, 0)
    assert "2 consecutive intervals" in second.reason
    recovered = judge(canary, first.state, window(), window(), later(state, 12))
    assert recovered.state.failures == 0


def test_an_anomaly_rate_explosion_rolls_back() -> None:
    canary = spec(analysis={"failureLimit": 1})
    state = first_state(canary, T0)
    decision = judge(canary, state, window(anomalies=10), window(anomalies=200), later(state, 11))
    assert decision.action is Action.ROLLBACK
    assert "anomalyRate" in decision.reason


def test_a_slower_candidate_is_judged_only_above_the_floor() -> None:
    canary = spec(analysis={"failureLimit": 1})
    state = first_state(canary, T0)
    fine = judge(canary, state, window(ms=0.05), window(ms=0.5), later(state, 11))
    assert fine.action is Action.ADVANCE  # 10× slower, but under a millisecond
    slow = judge(canary, state, window(ms=2.0), window(ms=40.0), later(state, 11))
    assert slow.action is Action.ROLLBACK
    assert "latencyP99Ms" in slow.reason


def test_a_shadow_promotes_on_agreement_and_holds_below_it() -> None:
    shadow = spec(strategy="shadow", analysis={"agreementThreshold": 0.95})
    state = first_state(shadow, T0)
    assert (state.phase, state.weight) == (Phase.SHADOWING, 0)
    agreeing = window(compared=1000, agreed=990)
    promoted = judge(shadow, state, window(), agreeing, later(state, 11))
    assert promoted.action is Action.PROMOTE
    disagreeing = window(compared=1000, agreed=800)
    held = judge(shadow, state, window(), disagreeing, later(state, 11))
    assert held.action is Action.HOLD
    assert "agreement 0.8 short of 0.95" in held.reason


def test_a_rollout_past_its_maximum_duration_fails_back_to_stable() -> None:
    shadow = spec(strategy="shadow", analysis={"maxDurationSeconds": 60})
    state = first_state(shadow, T0)
    decision = judge(
        shadow, state, window(), window(compared=1000, agreed=500), T0 + timedelta(seconds=61)
    )
    assert decision.action is Action.FAIL
    assert (decision.state.phase, decision.state.weight) == (Phase.FAILED, 0)
    assert "maxDurationSeconds" in decision.reason


def test_label_checks_hold_without_labels_and_roll_back_a_worse_fpr() -> None:
    labeled = spec(
        analysis={
            "minLabels": 50,
            "failureLimit": 1,
            "checks": {"falsePositiveRate": {"maxIncrease": 0.05}},
        }
    )
    state = first_state(labeled, T0)
    waiting = judge(labeled, state, window(), window(), later(state, 11))
    assert waiting.action is Action.HOLD
    assert "0 of 50 labels" in waiting.reason
    good = Confusion(tp=10, fp=2, tn=80, fn=8)
    worse = Confusion(tp=10, fp=30, tn=52, fn=8)
    rolled = judge(labeled, state, window(labeled=good), window(labeled=worse), later(state, 11))
    assert rolled.action is Action.ROLLBACK
    assert "falsePositiveRate" in rolled.reason


def test_a_primary_metric_must_be_better_to_promote() -> None:
    shadow = spec(strategy="shadow", analysis={"primaryMetric": "f1", "minLabels": 10})
    state = first_state(shadow, T0)
    agreeing = {"compared": 1000, "agreed": 999}
    same = Confusion(tp=10, fp=2, tn=80, fn=8)
    better = Confusion(tp=15, fp=2, tn=80, fn=3)
    held = judge(
        shadow, state, window(labeled=same), window(labeled=same, **agreeing), later(state, 11)
    )
    assert held.action is Action.HOLD
    assert "primary f1" in held.reason
    promoted = judge(
        shadow, state, window(labeled=same), window(labeled=better, **agreeing), later(state, 11)
    )
    assert promoted.action is Action.PROMOTE


def test_paused_and_finished_rollouts_hold() -> None:
    canary = spec()
    state = dataclasses.replace(first_state(canary, T0), phase=Phase.PAUSED)
    assert judge(canary, state, window(), window(), later(state, 99)).reason == "paused"
    done = dataclasses.replace(state, phase=Phase.PROMOTED)
    assert judge(canary, done, window(), window(), later(state, 99)).action is Action.HOLD


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"strategy": "blue-green"}, "strategy"),
        ({"strategy": "canary", "steps": [50, 25, 100]}, "steps"),
        ({"strategy": "canary", "steps": [5, 25]}, "steps"),
        ({"strategy": "canary", "analysis": {"minSamples": 0}}, "analysis.minSamples"),
        ({"strategy": "canary", "analysis": {"minsamples": 3}}, "analysis.minsamples"),
        ({"strategy": "shadow", "analysis": {"agreementThreshold": 1.5}}, "agreementThreshold"),
        (
            {"strategy": "shadow", "analysis": {"checks": {"f1": {"maxDrop": 1}}}},
            "analysis.checks.f1.maxDrop",
        ),
        ({"strategy": "shadow", "analysis": {"primaryMetric": "accuracy"}}, "primaryMetric"),
        ({"strategy": "shadow", "analysis": {"intervalSeconds": True}}, "analysis.intervalSeconds"),
    ],
)
def test_a_bad_spec_names_its_field(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(SigmawatchError) as caught:
        parse_rollout_spec(raw)
    assert caught.value.code is ErrorCode.INVALID_ROLLOUT
    assert caught.value.details["field"] == field


def test_a_spec_round_trips_in_camel_case_with_defaults() -> None:
    parsed = parse_rollout_spec(
        {
            "strategy": "canary",
            "steps": [10, 100],
            "analysis": {"intervalSeconds": 1, "checks": {"f1": {"maxDecrease": 0.02}}},
        }
    )
    document = parsed.to_dict()
    assert document["steps"] == [10, 100]
    assert document["analysis"]["intervalSeconds"] == 1.0
    assert document["analysis"]["checks"]["latencyP99Ms"]["maxRatio"] == 2.0
    assert document["analysis"]["checks"]["f1"]["maxDecrease"] == 0.02
    assert parse_rollout_spec(document) == parsed


# -- properties --------------------------------------------------------------------------

windows = st.builds(
    window,
    n=st.integers(0, 3000),
    anomalies=st.integers(0, 300),
    errors=st.integers(0, 300),
    ms=st.sampled_from([0.05, 0.3, 2.0, 30.0, 500.0]),
    compared=st.integers(0, 3000),
    agreed=st.integers(0, 3000),
    labeled=st.builds(Confusion, *(st.integers(0, 60) for _ in range(4))),
)
specs = st.builds(
    lambda strategy, samples, limit, primary: spec(
        strategy=strategy,
        analysis={
            "minSamples": samples,
            "failureLimit": limit,
            "primaryMetric": primary,
            "minLabels": 20,
        },
    ),
    st.sampled_from(["shadow", "canary"]),
    st.integers(1, 2000),
    st.integers(1, 4),
    st.sampled_from([None, "f1", "falsePositiveRate"]),
)
states = st.builds(
    lambda step, failures, offset: RolloutState(
        Phase.PROGRESSING,
        step,
        [5, 25, 50, 100][step],
        T0,
        T0 + timedelta(seconds=offset),
        failures,
    ),
    st.integers(0, 3),
    st.integers(0, 3),
    st.integers(0, 100),
)


@settings(max_examples=400, deadline=None)
@given(specs, states, windows, windows, st.integers(0, 200))
def test_properties_of_every_decision(
    rollout: RolloutSpec,
    state: RolloutState,
    stable: VersionWindow,
    candidate: VersionWindow,
    seconds: int,
) -> None:
    now = state.step_started_at + timedelta(seconds=seconds)
    decision = judge(rollout, state, stable, candidate, now)
    assert judge(rollout, state, stable, candidate, now) == decision  # same inputs, same action
    samples = candidate.shadow_compared if rollout.strategy == "shadow" else candidate.predictions
    if decision.action in (Action.PROMOTE, Action.ADVANCE):
        assert samples >= rollout.analysis.min_samples
        assert all(c.passed for c in decision.checks)
    if decision.action in (Action.ROLLBACK, Action.FAIL):
        assert decision.state.weight == 0  # stable takes all traffic again
        assert decision.state.phase in (Phase.ROLLED_BACK, Phase.FAILED)
    if decision.action is Action.HOLD:
        assert decision.state.phase is state.phase
        assert decision.state.weight == state.weight
        assert decision.reason
