"""Registry contract, rollouts, statistics and labels (REL-1..5): memory and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from sigmawatch.artifacts import FileStore
from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.registry import API, Registry, Writer
from sigmawatch.registry.rollout_records import (
    Driver,
    IstioRoute,
    NewRollout,
    RolloutMember,
    StatsRow,
    TrackRow,
)
from sigmawatch.rollouts.policy import Phase, first_state
from sigmawatch.rollouts.spec import parse_rollout_spec
from sigmawatch.rollouts.window import N_LATENCY, latency_bucket
from sigmawatch.settings import TrainingSettings
from support.training import CANARY, rollout, train, two_versions

SHADOW = parse_rollout_spec({"strategy": "shadow"})


def code_of(call) -> ErrorCode:  # type: ignore[no-untyped-def]
    with pytest.raises(SigmawatchError) as caught:
        call()
    return caught.value.code


def test_an_active_rollout_holds_production_against_every_other_writer(
    any_registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    two_versions(any_registry, file_store, settings, "held")
    with any_registry.listen() as feed:
        started = any_registry.start_rollout(rollout("held"))
        heard = set()
        for _ in range(10):
            heard |= set(feed.changes(timeout=0.3))
            if f"rollout:{started.rollout_id}" in heard:
                break
    assert f"rollout:{started.rollout_id}" in heard
    assert (started.state.phase, started.state.weight, started.revision) == (
        Phase.PROGRESSING,
        10,
        1,
    )
    assert (started.series_id, started.stable, started.candidate) == ("held", 1, 2)
    refused = code_of(lambda: any_registry.set_production("held", 2, by=API))
    assert refused is ErrorCode.ROLLOUT_IN_PROGRESS
    assert code_of(lambda: any_registry.set_production("held", 2, by=Writer.pin("ns", "m"))) is (
        ErrorCode.ROLLOUT_IN_PROGRESS
    )
    promoted = train(any_registry, file_store, settings, "held", 2, promote=True)
    assert not promoted.record.is_production
    assert promoted.warnings()[0]["code"] == "ROLLOUT_IN_PROGRESS"
    assert code_of(lambda: any_registry.start_rollout(rollout("held", candidate=3))) is (
        ErrorCode.ROLLOUT_IN_PROGRESS
    )
    assert any_registry.series_rollout("held") == started
    assert [r.rollout_id for r in any_registry.active_rollouts()] == [started.rollout_id]
    (route,) = any_registry.routes()
    assert (route.series_id, route.stable, route.candidate, route.weight) == ("held", 1, 2, 10)
    assert any_registry.route_revisions() == {started.rollout_id: 1}


def test_a_rollout_starts_only_from_production_to_an_active_candidate(
    any_registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    two_versions(any_registry, file_store, settings, "strict")
    assert code_of(
        lambda: any_registry.start_rollout(rollout("strict", stable=2, candidate=1))
    ) is (ErrorCode.INVALID_ROLLOUT)
    assert code_of(lambda: any_registry.start_rollout(rollout("strict", candidate=9))) is (
        ErrorCode.INVALID_VERSION
    )
    assert (
        code_of(lambda: any_registry.start_rollout(rollout("nobody"))) is ErrorCode.MODEL_NOT_FOUND
    )
    any_registry.set_production("strict", 1, by=Writer.pin("ns", "m"))
    assert code_of(lambda: any_registry.start_rollout(rollout("strict"))) is ErrorCode.POINTER_HELD
    assert any_registry.series_rollout("strict") is None  # nothing was taken


def test_moves_are_compare_and_set_and_leave_a_history(
    any_registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    two_versions(any_registry, file_store, settings, "moves")
    started = any_registry.start_rollout(rollout("moves"))
    now = datetime.now(UTC)
    advanced = dataclasses.replace(started.state, step=1, weight=50, step_started_at=now)
    first = any_registry.update_rollout(
        started.rollout_id, revision=1, state=advanced, reason="10% passed", analysis={"checks": []}
    )
    assert first is not None
    assert (first.revision, first.state.weight, first.last_analysis) == (2, 50, {"checks": []})
    stale = any_registry.update_rollout(
        started.rollout_id, revision=1, state=advanced, reason="late"
    )
    assert stale is None  # another driver moved it first
    held = any_registry.update_rollout(
        started.rollout_id, revision=2, state=advanced, reason="waiting"
    )
    assert held is not None
    assert held.reason == "waiting"
    assert [t.reason for t in any_registry.transitions(started.rollout_id)] == [
        "started",
        "10% passed",
    ]
    assert any_registry.get_production("moves").name == "v1"  # routing, not the pointer, moved


def test_promotion_moves_production_to_the_candidate_and_frees_it(
    any_registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    two_versions(any_registry, file_store, settings, "up")
    started = any_registry.start_rollout(rollout("up", spec=SHADOW))
    done = dataclasses.replace(started.state, phase=Phase.PROMOTED, weight=100)
    finished = any_registry.update_rollout(
        started.rollout_id, revision=1, state=done, reason="agreed"
    )
    assert finished is not None
    assert finished.finished_at is not None
    assert not finished.active
    series = any_registry.get_series("up")
    assert series is not None
    assert (series.production_version, series.holder) == (2, None)
    assert any_registry.routes() == []
    assert any_registry.series_rollout("up") == finished  # the last one, when none is active
    assert (
        any_registry.update_rollout(started.rollout_id, revision=2, state=done, reason="x") is None
    )


@pytest.mark.parametrize("phase", [Phase.ROLLED_BACK, Phase.ABORTED, Phase.FAILED])
def test_every_other_end_leaves_stable_in_production_and_frees_it(
    any_registry: Registry, file_store: FileStore, settings: TrainingSettings, phase: Phase
) -> None:
    two_versions(any_registry, file_store, settings, "down")
    started = any_registry.start_rollout(rollout("down"))
    ended = dataclasses.replace(started.state, phase=phase, weight=0)
    assert any_registry.update_rollout(started.rollout_id, revision=1, state=ended, reason="r")
    series = any_registry.get_series("down")
    assert series is not None
    assert (series.production_version, series.holder) == (1, None)
    assert any_registry.set_production("down", 2, by=API).record.is_production
    assert [t.phase for t in any_registry.transitions(started.rollout_id)] == [
        "Progressing",
        phase.value,
    ]


def test_retention_never_archives_what_a_rollout_serves(
    any_registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    two_versions(any_registry, file_store, settings, "kept")
    any_registry.start_rollout(rollout("kept"))
    for seed in range(2, 14):
        train(any_registry, file_store, settings, "kept", seed, promote=False)
    statuses = {r.version: r.status for r in any_registry.list_versions("kept")}
    assert (statuses[1], statuses[2]) == ("active", "active")
    assert statuses[3] == "archived"


def test_a_fleet_resolves_its_candidates_and_promotes_every_member(
    any_registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    for i in range(3):
        train(any_registry, file_store, settings, f"fl_{i}", 10 + i)
        train(
            any_registry,
            file_store,
            settings,
            f"fl_{i}",
            20 + i,
            promote=False,
            detector={"kind": "mad"},
        )
    train(any_registry, file_store, settings, "fl_only", 99)  # no mad version: not a member
    mad = train(any_registry, file_store, settings, "elsewhere", 5, detector={"kind": "mad"})
    members = any_registry.resolve_members(prefix="fl_", spec_hash=mad.record.detector.spec_hash)
    assert members == [RolloutMember(f"fl_{i}", 1, 2) for i in range(3)]
    assert any_registry.resolve_members(series_ids=["fl_1", "fl_only"], candidate=2) == [
        RolloutMember("fl_1", 1, 2)
    ]
    any_registry.record_result("run-7", "fl_0", "created", version=2)
    assert any_registry.resolve_members(prefix="fl_", run_id="run-7") == [
        RolloutMember("fl_0", 1, 2)
    ]
    assert code_of(lambda: any_registry.resolve_members(prefix="fl_")) is ErrorCode.INVALID_ROLLOUT
    fleet = NewRollout(
        CANARY,
        tuple(members),
        Driver.OPERATOR,
        first_state(CANARY, datetime.now(UTC)),
        "ns/fl",
        True,
    )
    started = any_registry.start_rollout(fleet)
    assert (started.fleet, started.members, started.series_id) == (True, 3, None)
    assert any_registry.driven_rollout("ns/fl") == started
    assert len(any_registry.routes([started.rollout_id])) == 3
    done = dataclasses.replace(started.state, phase=Phase.PROMOTED, weight=100)
    any_registry.update_rollout(started.rollout_id, revision=1, state=done, reason="ok")
    assert {any_registry.get_production(f"fl_{i}").version for i in range(3)} == {2}
    assert any_registry.rollout_members(started.rollout_id) == members


def stats_row(series: str, version: int, bucket: datetime, n: int, *, ms: float = 0.3) -> StatsRow:
    latency = [0] * N_LATENCY
    latency[latency_bucket(ms)] = n
    end = bucket + timedelta(seconds=1)
    return StatsRow(series, version, bucket, n, n // 10, 1, 2, tuple(latency), n, n - 1, end)


def test_pods_counts_add_up_exactly_per_version_and_per_rollout_side(
    any_registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    two_versions(any_registry, file_store, settings, "counted")
    started = any_registry.start_rollout(rollout("counted"))
    t0 = started.state.started_at.replace(microsecond=0) + timedelta(seconds=1)
    later = t0 + timedelta(seconds=30)
    # Two pods flush into the same bucket; a third row is later.
    any_registry.record_stats([stats_row("counted", 1, t0, 100), stats_row("counted", 2, t0, 40)])
    any_registry.record_stats(
        [stats_row("counted", 1, t0, 50, ms=30.0), stats_row("counted", 2, later, 10)]
    )
    stable = any_registry.version_window("counted", 1, t0 - timedelta(seconds=1))
    assert (stable.predictions, stable.anomalies, stable.errors, stable.fallbacks) == (
        150,
        15,
        2,
        4,
    )
    assert sum(stable.latency) == 150
    assert stable.latency[latency_bucket(30.0)] == 50
    assert (stable.shadow_compared, stable.shadow_agreed) == (150, 148)
    assert any_registry.version_window("counted", 2, t0, until=later).predictions == 40
    sides = any_registry.rollout_windows(started.rollout_id, stable_since=t0, candidate_since=later)
    assert (sides[0].predictions, sides[1].predictions) == (150, 10)
    assert any_registry.prune_stats(1) == 0


def test_a_bucket_counts_in_every_window_it_overlaps(any_registry: Registry) -> None:
    """A rollout starting mid-bucket still sees what that bucket holds."""
    start = datetime(2026, 12, 1, 12, 0, 5, tzinfo=UTC)
    bucket = start.replace(second=0)  # a 10 s bucket that began before the rollout did
    row = dataclasses.replace(
        stats_row("edge", 1, bucket, 30), bucket_end=bucket + timedelta(seconds=10)
    )
    any_registry.record_stats([row])
    assert any_registry.version_window("edge", 1, start).predictions == 30
    assert any_registry.version_window("edge", 1, start + timedelta(seconds=10)).predictions == 0
    assert (
        any_registry.version_window(
            "edge", 1, bucket - timedelta(hours=1), until=bucket
        ).predictions
        == 0
    )


def test_labels_sent_again_replace_the_old_ones(any_registry: Registry) -> None:
    ts = np.array([100, 200, 300], dtype=np.int64)
    before = datetime.now(UTC) - timedelta(seconds=1)
    assert (
        any_registry.record_feedback(
            "lab", ts, np.array([1.0, 2.0, 3.0]), np.array([True, False, False])
        )
        == 0
    )
    again = any_registry.record_feedback(
        "lab", np.array([200, 400], dtype=np.int64), np.array([2.5, 4.0]), np.array([True, True])
    )
    assert again == 1
    found = any_registry.feedback(["lab", "none"], since=before)
    assert list(found) == ["lab"]
    assert found["lab"].timestamps.tolist() == [100, 200, 300, 400]
    assert found["lab"].labels.tolist() == [True, True, False, True]
    assert found["lab"].values.tolist() == [1.0, 2.5, 3.0, 4.0]
    assert any_registry.feedback(["lab"], since=datetime.now(UTC) + timedelta(hours=1)) == {}


def test_an_istio_rollout_has_no_members_and_is_judged_on_tracks(any_registry: Registry) -> None:
    route = IstioRoute("prod", "sigmawatch-inference", "inference")
    new = NewRollout(
        CANARY,
        (),
        Driver.OPERATOR,
        first_state(CANARY, datetime.now(UTC)),
        "prod/image",
        istio=route,
    )
    started = any_registry.start_rollout(new)
    assert (started.istio, started.members) == (route, 0)
    assert any_registry.routes() == []  # nothing for the pods to route in-app
    t0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    end = t0 + timedelta(seconds=10)
    latency = tuple(5 if i == 3 else 0 for i in range(N_LATENCY))
    any_registry.record_track_stats([TrackRow("stable", t0, end, 5, 0, latency)])
    any_registry.record_track_stats(
        [TrackRow("stable", t0, end, 5, 1, latency), TrackRow("candidate", t0, end, 5, 2, latency)]
    )
    stable, candidate = any_registry.track_windows(stable_since=t0, candidate_since=t0)
    assert (stable.predictions, stable.errors, sum(stable.latency)) == (10, 1, 10)
    assert (candidate.predictions, candidate.errors) == (5, 2)
    later = end + timedelta(seconds=1)
    assert any_registry.track_windows(stable_since=later, candidate_since=later)[0].predictions == 0
