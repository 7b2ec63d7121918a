"""The whole AnomalyModel reconcile in process: every scenario of the cluster tier, and
the edge cases a cluster makes hard to stage (MOD-1, MOD-4, REG-4, REG-6)."""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import cast

import orjson
import pytest

from sigmawatch.audit import AuditQuery
from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.registry import API, Registry
from sigmawatch.registry.memory import MemoryRegistry
from sigmawatch.sources import Source
from sigmawatch.training_job import ENV_CORRELATION, run_correlation
from sigmawatch_operator.decide import decide
from sigmawatch_operator.jobs import job_name
from sigmawatch_operator.model_spec import parse_spec
from sigmawatch_operator.observe import observe
from sigmawatch_operator.planning import parse_time
from sigmawatch_operator.report import report
from support.fake_jobs import Harness, condition
from support.serving import SpyRegistry


@pytest.fixture
def plant(tmp_path: Path) -> Harness:
    return Harness(tmp_path)


def memory(plant: Harness) -> MemoryRegistry:
    assert isinstance(plant.registry, MemoryRegistry)
    return plant.registry


def test_single_series_model_trains_v1_and_reports_ready(plant: Harness) -> None:
    plant.write_data("pump_1", seed=1)
    plant.apply("pump-1", plant.single("pump_1"))
    first = plant.reconcile("pump-1")
    assert condition(first.status, "Training")["status"] == "True"
    assert condition(first.status, "Ready")["reason"] == "Training"
    (job,) = plant.jobs.jobs.values()
    owner = job["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("AnomalyModel", "pump-1", "uid-pump-1")
    status = plant.settle("pump-1")
    assert (status["productionVersion"], status["latestVersion"]) == ("v1", "v1")
    assert (status["seriesCovered"], status["seriesTrained"], status["seriesFailed"]) == (1, 1, 0)
    assert status["observedGeneration"] == 1
    assert status["lastJob"]["phase"] == "Succeeded"
    assert condition(status, "Ready")["status"] == "True"
    assert condition(status, "Degraded")["status"] == "False"
    assert plant.registry.get_production("pump_1").name == "v1"
    assert plant.reasons() == ["TrainingStarted", "TrainingSucceeded"]
    plant.settle("pump-1")  # nothing to do: no new Job, no new Event
    assert len(plant.jobs.jobs) == 1
    assert plant.reasons() == ["TrainingStarted", "TrainingSucceeded"]


def test_a_run_carries_one_correlation_id_from_the_operator_to_the_registry(
    plant: Harness,
) -> None:
    """OBS-3: the id the operator derives for a run is in the Job's environment, named
    by the TrainingStarted event, and on the run's audit entries and nothing else's."""
    plant.write_data("pump_c", seed=3)
    plant.apply("pump-c", plant.single("pump_c"))
    plant.reconcile("pump-c")
    (job,) = plant.jobs.jobs.values()
    name = job["metadata"]["name"]
    expected = run_correlation("plant", name)
    env = {
        e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env[ENV_CORRELATION] == expected
    [started] = [e for e in plant.events if e.reason == "TrainingStarted"]
    assert f"correlation id {expected}" in started.message
    plant.settle("pump-c")
    entries = plant.registry.audit(AuditQuery(correlation_id=expected)).entries
    assert [(e.actor, e.action, e.series_id) for e in entries] == [
        (f"job/plant/{name}", "train", "pump_c")
    ]
    # Another run (the same model retrained by hand) gets another id.
    assert run_correlation("plant", name + "-2") != expected


def test_new_data_with_a_retrain_request_makes_v2(plant: Harness) -> None:
    plant.write_data("pump_2", seed=2)
    plant.apply("pump-2", plant.single("pump_2"))
    plant.settle("pump-2")
    plant.write_data("pump_2", seed=22)
    plant.apply("pump-2", plant.single("pump_2", retrain={"nonce": "after-new-data"}))
    status = plant.settle("pump-2")
    assert status["productionVersion"] == "v2"
    assert len(plant.jobs.jobs) == 2
    assert [r.name for r in plant.registry.list_versions("pump_2")] == ["v1", "v2"]


def fifty_series_fleet(plant: Harness, name: str, prefix: str, seed: int, parallelism: int) -> None:
    """An AnomalyModel `name` over 50 series with data, in two shards of 25."""
    for i in range(50):
        plant.write_data(f"{prefix}{i:02d}", seed=seed + i)
    spec = {
        "series": {"selector": {"prefix": prefix}},
        "source": {"uri": plant.source_uri},
        "job": {"seriesPerPod": 25, "parallelism": parallelism},
    }
    plant.apply(name, spec)


def test_a_fleet_run_shows_its_progress_while_it_runs(plant: Harness) -> None:
    fifty_series_fleet(plant, "fleet-p", "fleet_p_", seed=200, parallelism=1)
    before_start = copy.deepcopy(plant.models["fleet-p"])
    started = plant.reconcile("fleet-p").status
    # A second handler with the copy read before the start (the Job's watch event
    # racing the start's patch) does not know the fleet's size: pending unknown, not 0.
    stale = plant.reconciler.reconcile(before_start).status
    assert condition(stale, "Training")["status"] == "True"
    assert stale["seriesPending"] is None
    assert (started["seriesTrained"], started["seriesFailed"], started["seriesPending"]) == (
        0,
        0,
        50,
    )
    (job,) = plant.jobs.running()
    plant.jobs.run(
        job, registry=plant.registry, store=plant.store, settings=plant.settings, indexes=1
    )
    halfway = plant.reconcile("fleet-p").status  # the Job is still running
    assert condition(halfway, "Training")["status"] == "True"
    trained = plant.registry.count_served(prefix="fleet_p_")  # shard 0's series, by hash
    assert 0 < trained < 50
    assert (halfway["seriesTrained"], halfway["seriesFailed"], halfway["seriesPending"]) == (
        trained,
        0,
        50 - trained,
    )
    # Ready only once every covered series serves, not at the first one (issue 10).
    ready = condition(halfway, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "PartlyServing")
    assert ready["message"] == f"{trained} of 50 series serve a version"
    done = plant.settle("fleet-p")
    assert (done["seriesTrained"], done["seriesFailed"], done["seriesPending"]) == (50, 0, 0)
    assert condition(done, "Ready")["status"] == "True"


def test_fleet_of_fifty_series_is_one_job_with_counts(plant: Harness) -> None:
    fifty_series_fleet(plant, "fleet-a", "fleet_a_", seed=100, parallelism=2)
    status = plant.settle("fleet-a")
    assert (status["seriesCovered"], status["seriesTrained"], status["seriesFailed"]) == (50, 50, 0)
    assert status.get("productionVersion") is None
    assert status["seriesDescription"] == "prefix fleet_a_"
    (job,) = plant.jobs.jobs.values()
    assert (job["spec"]["completions"], job["spec"]["parallelism"]) == (2, 2)
    assert plant.registry.count_served(prefix="fleet_a_") == 50


def test_bad_data_degrades_with_the_code_and_the_old_version_keeps_serving(
    plant: Harness,
) -> None:
    plant.write_data("pump_3", seed=3)
    plant.apply("pump-3", plant.single("pump_3"))
    plant.settle("pump-3")
    plant.write_data("pump_3", constant=True)
    plant.apply("pump-3", plant.single("pump_3", retrain={"nonce": "bad"}))
    status = plant.settle("pump-3")
    assert condition(status, "Degraded")["reason"] == "CONSTANT_SERIES"
    assert status["lastJob"]["phase"] == "Failed"
    assert status["lastJob"]["reason"] == "FailedIndexes"
    assert status["lastError"]["series_id"] == "pump_3"
    assert status["seriesFailed"] == 1
    assert condition(status, "Ready")["status"] == "True"
    assert status["productionVersion"] == "v1"
    assert "TrainingFailed" in plant.reasons()
    plant.settle("pump-3")  # not retried in a loop
    assert len(plant.jobs.jobs) == 2


def test_missing_data_is_reported_per_series(plant: Harness) -> None:
    plant.write_data("list_ok", seed=4)
    spec = {"series": {"ids": ["list_ok", "list_missing"]}, "source": {"uri": plant.source_uri}}
    plant.apply("listed", spec)
    status = plant.settle("listed")
    assert (status["seriesCovered"], status["seriesTrained"], status["seriesFailed"]) == (2, 1, 1)
    assert condition(status, "Degraded")["reason"] == "DATA_NOT_FOUND"
    assert status["lastError"]["series_id"] == "list_missing"
    # Not Ready while a covered series serves nothing (issue 10), however many do.
    ready = condition(status, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "PartlyServing")
    assert ready["message"] == "1 of 2 series serve a version"


def test_pinning_holds_production_and_a_bad_pin_degrades(plant: Harness) -> None:
    plant.write_data("pump_4", seed=5)
    plant.apply("pump-4", plant.single("pump_4"))
    plant.settle("pump-4")
    plant.write_data("pump_4", seed=6)
    plant.apply("pump-4", plant.single("pump_4", retrain={"nonce": "2"}))
    assert plant.settle("pump-4")["productionVersion"] == "v2"
    pinned = plant.single("pump_4", retrain={"nonce": "2"}, production={"pinnedVersion": "v1"})
    plant.apply("pump-4", pinned)
    assert plant.settle("pump-4")["productionVersion"] == "v1"
    assert "ProductionPinned" in plant.reasons()
    series = plant.registry.get_series("pump_4")
    assert series is not None
    assert series.holder == "pin:plant/pump-4"
    # The pin holds against an API rollback, and a version trained meanwhile stays out.
    with pytest.raises(SigmawatchError) as refused:
        plant.registry.set_production("pump_4", 2, by=API)
    assert refused.value.code is ErrorCode.POINTER_HELD
    plant.write_data("pump_4", seed=7)
    pinned["retrain"] = {"nonce": "3"}
    plant.apply("pump-4", pinned)
    status = plant.settle("pump-4")
    assert (status["latestVersion"], status["productionVersion"]) == ("v3", "v1")
    # A pin to a version that does not exist degrades and leaves production alone.
    plant.apply("pump-4", {**pinned, "production": {"pinnedVersion": "v9"}})
    status = plant.settle("pump-4")
    assert condition(status, "Degraded")["reason"] == "INVALID_VERSION"
    assert plant.registry.get_production("pump_4").name == "v1"
    assert plant.reasons().count("PinnedVersionUnavailable") == 1  # per transition only


def test_removing_the_pin_gives_the_pointer_back(plant: Harness) -> None:
    plant.write_data("free", seed=1)
    plant.apply("free", plant.single("free"))
    plant.settle("free")
    plant.apply("free", plant.single("free", production={"pinnedVersion": "v1"}))
    plant.settle("free")
    plant.apply("free", plant.single("free"))
    plant.settle("free")
    assert "PinReleased" in plant.reasons()
    series = plant.registry.get_series("free")
    assert series is not None
    assert (series.production_version, series.holder) == (1, None)


def test_a_pin_to_an_archived_version_degrades(plant: Harness) -> None:
    for run in range(12):
        plant.write_data("arch", seed=600 + run)
        plant.apply("arch", plant.single("arch", retrain={"nonce": str(run)}))
        plant.settle("arch")
    pinned = plant.single("arch", retrain={"nonce": "11"}, production={"pinnedVersion": "v1"})
    plant.apply("arch", pinned)
    status = plant.settle("arch")
    assert condition(status, "Degraded")["reason"] == "VERSION_ARCHIVED"
    assert status["productionVersion"] == "v12"


def test_twelve_retrains_archive_two_versions(plant: Harness) -> None:
    for run in range(12):
        plant.write_data("pump_5", seed=500 + run)
        plant.apply("pump-5", plant.single("pump_5", retrain={"nonce": str(run)}))
        assert plant.settle("pump-5")["latestVersion"] == f"v{run + 1}"
    statuses = {r.name: r.status for r in plant.registry.list_versions("pump_5")}
    assert [v for v, s in statuses.items() if s == "archived"] == ["v1", "v2"]
    assert plant.registry.get_production("pump_5").name == "v12"


def test_a_smaller_keep_applies_to_listed_series_and_is_not_claimed_for_a_selector(
    plant: Harness,
) -> None:
    for i in range(4):
        plant.write_data(f"keep_{i}", seed=i)
    for run in range(3):
        for i in range(4):
            plant.write_data(f"keep_{i}", seed=10 * run + i)
        listed = {
            "series": {"ids": ["keep_0", "keep_1"]},
            "source": {"uri": plant.source_uri},
            "retrain": {"nonce": str(run)},
        }
        plant.apply("listed", listed)
        plant.settle("listed")
    plant.apply("listed", {**listed, "retention": {"keepVersions": 1}})
    status = plant.settle("listed")
    assert status["appliedRetention"] == 1
    assert "RetentionApplied" in plant.reasons()
    assert [r.status for r in plant.registry.list_versions("keep_0")] == [
        "archived",
        "archived",
        "active",
    ]
    selector = {
        "series": {"selector": {"prefix": "keep_"}},
        "source": {"uri": plant.source_uri},
        "retention": {"keepVersions": 1},
    }
    plant.apply("selected", selector)
    plant.reconcile("selected")  # starts a Job; retention waits for runs
    plant.run_jobs()
    status = plant.settle("selected")
    # Each of the selector's training runs applied keepVersions itself; status claims nothing.
    assert "appliedRetention" not in status
    assert [r.status for r in plant.registry.list_versions("keep_3")].count("active") == 1


def test_a_selector_that_matches_nothing_starts_no_job(plant: Harness) -> None:
    plant.apply(
        "empty", {"series": {"selector": {"prefix": "none_"}}, "source": {"uri": plant.source_uri}}
    )
    status = plant.settle("empty")
    assert plant.jobs.creates == 0
    assert condition(status, "Degraded")["reason"] == "NO_SERIES"
    assert condition(status, "Ready")["reason"] == "NotTrained"
    plant.write_data("none_1")  # data appears: the next reconcile trains it
    status = plant.settle("empty")
    assert status["seriesTrained"] == 1
    assert condition(status, "Degraded")["status"] == "False"


def test_a_job_that_fails_midway_records_what_it_trained(plant: Harness) -> None:
    for i in range(4):
        plant.write_data(f"mid_{i}", seed=i)
    plant.apply(
        "mid", {"series": {"selector": {"prefix": "mid_"}}, "source": {"uri": plant.source_uri}}
    )
    plant.reconcile("mid")
    spy = SpyRegistry(plant.registry)
    registered = 0

    def outage_after_two(*_: object, **__: object) -> None:
        nonlocal registered
        registered += 1
        if registered > 2:
            memory(plant).down = True

    spy.before["register"] = outage_after_two
    plant.run_jobs(registry=cast(Registry, spy))
    memory(plant).down = False  # the registry is back when the operator looks
    status = plant.settle("mid")
    assert status["lastJob"]["phase"] == "Failed"
    assert condition(status, "Degraded")["reason"] == "BackoffLimitExceeded"
    assert (status["seriesTrained"], status["seriesFailed"]) == (2, 0)
    assert condition(status, "Ready")["status"] == "True"  # what it trained serves


def test_a_registry_outage_changes_nothing_and_is_retried(plant: Harness) -> None:
    plant.write_data("down", seed=1)
    plant.apply("down", plant.single("down"))
    memory(plant).down = True
    with pytest.raises(SigmawatchError) as caught:
        plant.reconcile("down")
    assert caught.value.retryable
    assert plant.jobs.creates == 0
    assert plant.models["down"]["status"] == {}
    memory(plant).down = False
    assert plant.settle("down")["productionVersion"] == "v1"


def test_two_replicas_racing_create_one_job_and_the_second_adopts_it(plant: Harness) -> None:
    """Both observed before either acted (a peering takeover overlap): the Job's name
    is the same for both, so the API server keeps one and the second adopts it."""
    plant.write_data("raced", seed=1)
    plant.apply("raced", plant.single("raced"))
    body = plant.models["raced"]
    replicas = [plant.replica(), plant.replica()]
    seen = [observe(body, jobs=plant.jobs, registry=plant.registry, now=plant.clock())] * 2
    plans = [decide(observed) for observed in seen]
    assert plans[0].start is not None
    assert plans[0].start == plans[1].start
    acted = [r.executor.act(o, p) for r, o, p in zip(replicas, seen, plans, strict=True)]
    assert plant.jobs.creates == 2
    assert len(plant.jobs.jobs) == 1
    assert [a.started.adopted for a in acted if a.started] == [False, True]
    assert "adopted" in report(seen[1], plans[1], acted[1]).events[0].message
    assert plant.settle("raced")["productionVersion"] == "v1"


def test_a_restarted_operator_follows_the_running_job(plant: Harness) -> None:
    for i in range(3):
        plant.write_data(f"restart_{i}", seed=i)
    plant.apply(
        "restart",
        {"series": {"selector": {"prefix": "restart_"}}, "source": {"uri": plant.source_uri}},
    )
    plant.reconcile("restart")
    restarted = plant.replica()  # nothing carried over but status, Jobs and the registry
    plant.reconcile("restart", restarted)
    assert len(plant.jobs.jobs) == 1
    plant.run_jobs()
    plant.reconcile("restart", restarted)
    status = plant.models["restart"]["status"]
    assert (status["seriesCovered"], status["seriesTrained"]) == (3, 3)


def test_a_scheduled_retrain_is_named_by_its_due_time(plant: Harness) -> None:
    plant.write_data("sched", seed=1)
    plant.apply("sched", plant.single("sched", retrain={"interval": "6h"}))
    status = plant.settle("sched")
    assert status["nextTrainingAt"] is not None
    last = parse_time(status["lastTrainedAt"])
    assert last is not None
    plant.clock.advance(hours=7)
    plant.write_data("sched", seed=2)
    plant.reconcile("sched")
    key = parse_spec(plant.models["sched"]["spec"]).training_key()
    expected = job_name("sched", key, (last + timedelta(hours=6)).timestamp())
    assert expected in plant.jobs.jobs  # any replica, any time after it was due: this name
    assert len(plant.jobs.jobs) == 2


def test_an_invalid_spec_degrades_and_keeps_what_was_trained(plant: Harness) -> None:
    plant.write_data("inv", seed=1)
    plant.apply("inv", plant.single("inv"))
    trained = plant.settle("inv")
    plant.apply("inv", plant.single("inv", production={"pinnedVersion": "2"}))
    status = plant.settle("inv")
    assert condition(status, "Degraded")["reason"] == "InvalidSpec"
    assert status["trainedKey"] == trained["trainedKey"]
    assert plant.reasons().count("InvalidSpec") == 1
    plant.apply("inv", plant.single("inv"))  # fixed: the same inputs, nothing to retrain
    status = plant.settle("inv")
    assert condition(status, "Degraded")["status"] == "False"
    assert len(plant.jobs.jobs) == 1


def test_observing_a_deleted_series_source_is_not_an_error(plant: Harness) -> None:
    plant.apply("ghost", plant.single("ghost_1"))
    observed = observe(
        plant.models["ghost"], jobs=plant.jobs, registry=plant.registry, now=plant.clock()
    )
    assert observed.series is None
    assert observed.served == 0


def test_a_second_model_pinning_the_same_series_is_told_who_holds_it(plant: Harness) -> None:
    plant.write_data("shared", seed=1)
    plant.apply("owner", plant.single("shared"))
    plant.settle("owner")
    plant.write_data("shared", seed=2)
    plant.apply("owner", plant.single("shared", retrain={"nonce": "2"}))
    plant.settle("owner")
    plant.apply(
        "owner", plant.single("shared", retrain={"nonce": "2"}, production={"pinnedVersion": "v1"})
    )
    plant.settle("owner")
    plant.apply(
        "rival", plant.single("shared", retrain={"nonce": "2"}, production={"pinnedVersion": "v2"})
    )
    status = plant.settle("rival")
    degraded = condition(status, "Degraded")
    assert degraded["reason"] == "POINTER_HELD"
    assert "plant/owner" in degraded["message"]
    assert plant.registry.get_production("shared").name == "v1"


def test_each_index_of_a_fleet_run_reads_its_own_series_list(
    plant: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 10: the operator lists the fleet once; no training pod lists it again."""
    fifty_series_fleet(plant, "fleet-l", "fleet_l_", seed=300, parallelism=2)
    plant.reconcile("fleet-l")
    (job,) = plant.jobs.running()
    lists = [orjson.loads(plant.store.get(k)) for k in plant.store.list(f"runs/{job}/")]
    assert [len(series) for series in lists] != [50]
    assert sorted(s for series in lists for s in series) == [f"fleet_l_{i:02d}" for i in range(50)]

    def no_listing(*_: object) -> list[str]:
        raise AssertionError("a training pod listed the fleet")

    monkeypatch.setattr(Source, "list_series", no_listing)
    status = plant.settle("fleet-l")
    assert (status["seriesTrained"], status["seriesFailed"]) == (50, 0)
