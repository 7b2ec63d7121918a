"""The operator against a real API server (MOD-1, MOD-4, REG-6, REL-1..4, OPS-1, OPS-2):
scenarios a user runs.

One operator process serves the module; each test gets its own namespace
set up as an installation would be. Training pods run this checkout's
`sigmawatch train-fleet` through the fake kubelet, against the same
registry database and artifact folder as the operator.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from sigmawatch import tracing
from sigmawatch.audit import AuditQuery
from sigmawatch.registry.rollout_records import IstioRoute, StatsRow
from sigmawatch_operator.istio_route import Weights, locate, patch_ops
from sigmawatch_operator.kube import KubeApi
from sigmawatch_operator.vs_client import VirtualServiceConflictError, VirtualServiceRejectedError
from support.fake_rollouts import latency
from support.istio import (
    flush_tracks,
    install_istio_crds,
    istio_rollout,
    manifest_virtual_service,
    route_holder,
    route_weights,
)
from support.kube import Cluster, KubectlError
from support.operator import OperatorProcess, condition, get_json, wait_for_status
from support.plant import Plant, model

pytestmark = pytest.mark.usefixtures("kubelet")


@pytest.fixture(scope="module")
def operator(plant: Plant, artifacts_dir: Path) -> Iterator[OperatorProcess]:
    process = plant.start_operator("operator", artifacts_dir / "logs")
    yield process
    process.stop()


def ready(obj: dict[str, Any]) -> bool:
    return condition(obj, "Ready").get("status") == "True" and not _training(obj)


def _training(obj: dict[str, Any]) -> bool:
    return condition(obj, "Training").get("status") == "True"


def settled(obj: dict[str, Any]) -> bool:
    """The last Job is recorded and none is running."""
    last = (obj.get("status") or {}).get("lastJob") or {}
    return bool(last.get("finishedAt")) and not _training(obj)


def wait_model(
    plant: Plant, ns: str, name: str, check: Any, what: str, timeout: float = 90
) -> dict[str, Any]:
    return wait_for_status(
        plant.cluster.kubectl, "anomalymodel", name, ns, check, timeout=timeout, what=what
    )


def single(plant: Plant, series: str, **spec: Any) -> dict[str, Any]:
    return {"series": {"id": series}, "source": {"uri": plant.source_uri}, **spec}


def events(cluster: Cluster, ns: str) -> list[str]:
    found = get_json(cluster.kubectl, "events", "-n", ns)
    return [e["reason"] for e in found["items"]]


def test_single_series_model_trains_v1_and_reports_ready(
    plant: Plant, operator: OperatorProcess, models_namespace: str
) -> None:
    ns = models_namespace
    plant.write_data("pump_1", seed=1)
    plant.apply(ns, model("pump-1", single(plant, "pump_1")))
    obj = wait_model(plant, ns, "pump-1", lambda o: ready(o) and settled(o), "pump-1 ready")
    status = obj["status"]
    assert status["productionVersion"] == "v1"
    assert status["latestVersion"] == "v1"
    assert (status["seriesCovered"], status["seriesTrained"], status["seriesFailed"]) == (1, 1, 0)
    assert status["observedGeneration"] == obj["metadata"]["generation"]
    assert status["lastJob"]["phase"] == "Succeeded"
    assert condition(obj, "Degraded")["status"] == "False"
    assert plant.registry.get_production("pump_1").name == "v1"
    jobs = plant.jobs(ns, "pump-1")
    assert len(jobs) == 1
    owner = jobs[0]["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"]) == (
        "AnomalyModel",
        "pump-1",
        obj["metadata"]["uid"],
    )
    assert {"TrainingStarted", "TrainingSucceeded"} <= set(events(plant.cluster, ns))
    printed = plant.cluster.kubectl("get", "am", "pump-1", "-n", ns).stdout
    assert "pump_1" in printed
    assert "v1" in printed
    assert "True" in printed


def test_new_data_with_a_retrain_request_makes_v2(
    plant: Plant, operator: OperatorProcess, models_namespace: str
) -> None:
    ns = models_namespace
    plant.write_data("pump_2", seed=2)
    plant.apply(ns, model("pump-2", single(plant, "pump_2")))
    wait_model(plant, ns, "pump-2", lambda o: ready(o) and settled(o), "v1")
    plant.write_data("pump_2", seed=22)  # new data landed
    plant.apply(ns, model("pump-2", single(plant, "pump_2", retrain={"nonce": "after-new-data"})))
    obj = wait_model(
        plant,
        ns,
        "pump-2",
        lambda o: (o.get("status") or {}).get("productionVersion") == "v2" and settled(o),
        "v2",
    )
    assert len(plant.jobs(ns, "pump-2")) == 2
    assert [r.name for r in plant.registry.list_versions("pump_2")] == ["v1", "v2"]
    assert obj["status"]["seriesTrained"] == 1


def test_fleet_of_fifty_series_is_one_job_with_counts(
    plant: Plant, operator: OperatorProcess, models_namespace: str
) -> None:
    ns = models_namespace
    for i in range(50):
        plant.write_data(f"fleet_a_{i:02d}", seed=100 + i)
    spec = {
        "series": {"selector": {"prefix": "fleet_a_"}},
        "source": {"uri": plant.source_uri},
        "job": {"seriesPerPod": 25, "parallelism": 2},
    }
    plant.apply(ns, model("fleet-a", spec))
    obj = wait_model(
        plant, ns, "fleet-a", lambda o: ready(o) and settled(o), "fleet trained", timeout=180
    )
    status = obj["status"]
    assert (status["seriesCovered"], status["seriesTrained"], status["seriesFailed"]) == (50, 50, 0)
    assert "productionVersion" not in status or status["productionVersion"] is None
    assert status["seriesDescription"] == "prefix fleet_a_"
    jobs = plant.jobs(ns, "fleet-a")
    assert len(jobs) == 1
    assert (jobs[0]["spec"]["completions"], jobs[0]["spec"]["parallelism"]) == (2, 2)
    for i in (0, 17, 49):
        assert plant.registry.get_production(f"fleet_a_{i:02d}").name == "v1"
    # A summary, never a per-series list: status stays small however big the fleet.
    assert not any(isinstance(value, list) and len(value) >= 50 for value in status.values())
    assert len(json.dumps(status)) < 4_000


def test_bad_data_degrades_with_the_code_and_the_old_version_keeps_serving(
    plant: Plant, operator: OperatorProcess, models_namespace: str
) -> None:
    ns = models_namespace
    plant.write_data("pump_3", seed=3)
    plant.apply(ns, model("pump-3", single(plant, "pump_3")))
    wait_model(plant, ns, "pump-3", lambda o: ready(o) and settled(o), "v1")
    plant.write_data("pump_3", constant=True)
    plant.apply(ns, model("pump-3", single(plant, "pump_3", retrain={"nonce": "bad"})))
    obj = wait_model(
        plant,
        ns,
        "pump-3",
        lambda o: condition(o, "Degraded").get("status") == "True" and settled(o),
        "Degraded after the bad run",
    )
    degraded = condition(obj, "Degraded")
    assert degraded["reason"] == "CONSTANT_SERIES"
    status = obj["status"]
    assert status["lastJob"]["phase"] == "Failed"
    assert status["lastError"]["series_id"] == "pump_3"
    assert status["seriesFailed"] == 1
    assert condition(obj, "Ready")["status"] == "True"  # v1 still serves
    assert status["productionVersion"] == "v1"
    assert plant.registry.get_production("pump_3").name == "v1"
    assert "TrainingFailed" in events(plant.cluster, ns)
    # Not retried in a loop: the failed inputs stay recorded, no new Job appears.
    assert len(plant.jobs(ns, "pump-3")) == 2


def test_missing_data_is_reported_per_series(
    plant: Plant, operator: OperatorProcess, models_namespace: str
) -> None:
    ns = models_namespace
    plant.write_data("list_ok", seed=4)
    spec = {"series": {"ids": ["list_ok", "list_missing"]}, "source": {"uri": plant.source_uri}}
    plant.apply(ns, model("listed", spec))
    obj = wait_model(plant, ns, "listed", settled, "listed run recorded")
    status = obj["status"]
    assert (status["seriesCovered"], status["seriesTrained"], status["seriesFailed"]) == (2, 1, 1)
    assert condition(obj, "Degraded")["reason"] == "DATA_NOT_FOUND"
    assert status["lastError"]["series_id"] == "list_missing"
    # Not Ready while a covered series serves nothing (issue 10).
    assert (condition(obj, "Ready")["status"], condition(obj, "Ready")["reason"]) == (
        "False",
        "PartlyServing",
    )


def test_pinning_an_older_version_moves_production(
    plant: Plant, operator: OperatorProcess, models_namespace: str
) -> None:
    ns = models_namespace
    plant.write_data("pump_4", seed=5)
    plant.apply(ns, model("pump-4", single(plant, "pump_4")))
    wait_model(plant, ns, "pump-4", lambda o: ready(o) and settled(o), "v1")
    plant.write_data("pump_4", seed=6)
    plant.apply(ns, model("pump-4", single(plant, "pump_4", retrain={"nonce": "2"})))
    wait_model(
        plant,
        ns,
        "pump-4",
        lambda o: o["status"].get("productionVersion") == "v2" and settled(o),
        "v2",
    )
    plant.apply(
        ns,
        model(
            "pump-4",
            single(plant, "pump_4", retrain={"nonce": "2"}, production={"pinnedVersion": "v1"}),
        ),
    )
    obj = wait_model(
        plant, ns, "pump-4", lambda o: o["status"].get("productionVersion") == "v1", "pinned v1"
    )
    assert plant.registry.get_production("pump_4").name == "v1"
    assert "ProductionPinned" in events(plant.cluster, ns)
    # SEC-4: the Jobs' trainings and the operator's pin, each under its own name.
    log = plant.registry.audit(AuditQuery(series_id="pump_4")).entries
    trained = [e for e in log if e.action == "train"]
    assert [e.outcome for e in trained] == ["created", "created"]
    assert all(e.actor.startswith(f"job/{ns}/") for e in trained), [e.actor for e in trained]
    [pin] = [e for e in log if e.action == "pin"]
    assert (pin.actor, pin.version) == (f"operator/{ns}/pump-4", 1)
    # A new version trained while pinned does not take production.
    plant.write_data("pump_4", seed=7)
    plant.apply(
        ns,
        model(
            "pump-4",
            single(plant, "pump_4", retrain={"nonce": "3"}, production={"pinnedVersion": "v1"}),
        ),
    )
    obj = wait_model(
        plant,
        ns,
        "pump-4",
        lambda o: o["status"].get("latestVersion") == "v3" and settled(o),
        "v3 trained",
    )
    assert obj["status"]["productionVersion"] == "v1"
    # A pin to a version that does not exist degrades and leaves production alone.
    plant.apply(
        ns,
        model(
            "pump-4",
            single(plant, "pump_4", retrain={"nonce": "3"}, production={"pinnedVersion": "v9"}),
        ),
    )
    obj = wait_model(
        plant,
        ns,
        "pump-4",
        lambda o: condition(o, "Degraded").get("reason") == "INVALID_VERSION",
        "bad pin",
    )
    assert plant.registry.get_production("pump_4").name == "v1"


def test_twelve_retrains_archive_two_versions(
    plant: Plant, operator: OperatorProcess, models_namespace: str
) -> None:
    ns = models_namespace
    for run in range(12):
        plant.write_data("pump_5", seed=500 + run)
        plant.apply(ns, model("pump-5", single(plant, "pump_5", retrain={"nonce": str(run)})))
        wait_model(
            plant,
            ns,
            "pump-5",
            lambda o, v=f"v{run + 1}": o["status"].get("latestVersion") == v and settled(o),
            f"v{run + 1}",
            timeout=60,
        )
    statuses = {r.name: r.status for r in plant.registry.list_versions("pump_5")}
    assert [v for v, s in statuses.items() if s == "archived"] == ["v1", "v2"]
    assert sum(s == "active" for s in statuses.values()) == 10
    assert plant.registry.get_production("pump_5").name == "v12"


def test_invalid_resources_are_rejected_by_the_api_server(
    plant: Plant, models_namespace: str
) -> None:
    cases: dict[str, dict[str, Any]] = {
        "exactly one of series.id, series.ids, series.selector": {
            "series": {"id": "a", "ids": ["b"]},
            "source": {"dataset": {}},
        },
        "must contain {series_id}": {
            "series": {"ids": ["a", "b"]},
            "source": {"uri": "s3://bucket/one-file.npy"},
        },
        "pinnedVersion needs a single-series model": {
            "series": {"selector": {"prefix": "x"}},
            "source": {"dataset": {}},
            "production": {"pinnedVersion": "v1"},
        },
        "spec.series.id: Invalid value": {"series": {"id": "bad-id"}, "source": {"dataset": {}}},
        'Unsupported value: "lstm"': {
            "series": {"id": "a"},
            "source": {"dataset": {}},
            "detector": {"kind": "lstm"},
        },
        "spec.window.points: Invalid value": {
            "series": {"id": "a"},
            "source": {"dataset": {}},
            "window": {"points": 5},
        },
        "spec.source: Required value": {"series": {"id": "a"}},
    }
    for message, spec in cases.items():
        with pytest.raises(KubectlError) as rejected:
            plant.apply(models_namespace, model("bad", spec))
        assert message in rejected.value.stderr, rejected.value.stderr


def test_invalid_model_rollouts_are_rejected_by_the_api_server(
    plant: Plant, models_namespace: str
) -> None:
    base = {"modelRef": {"name": "m"}, "candidate": {"version": "v2"}, "strategy": "canary"}
    cases: dict[str, dict[str, Any]] = {
        "set exactly one of candidate.version, candidate.trainingRun": {
            **base,
            "candidate": {"version": "v2", "trainingRun": "job-1"},
        },
        "set seriesId or fleet: true, not both": {**base, "seriesId": "a", "fleet": True},
        "steps must increase and end at 100": {**base, "steps": [50, 25, 100]},
        'Unsupported value: "bluegreen"': {**base, "strategy": "bluegreen"},
        "spec.analysis.agreementThreshold: Invalid value": {
            **base,
            "analysis": {"agreementThreshold": 2},
        },
    }
    for message, spec in cases.items():
        with pytest.raises(KubectlError) as rejected:
            plant.apply(models_namespace, model_rollout("bad", "m", **spec))
        assert message in rejected.value.stderr, rejected.value.stderr
    # Istio mode names a route and no model; in-app mode the other way round.
    route = {"virtualService": "sigmawatch-inference", "route": "inference"}
    mesh = {"trafficRouting": "istio", "istio": route, "strategy": "canary"}
    raw: dict[str, dict[str, Any]] = {
        "an inApp rollout needs modelRef and candidate, and no istio": {
            **base,
            "istio": route,
        },
        "trafficRouting: istio needs istio and names no modelRef": {
            **mesh,
            "modelRef": {"name": "m"},
        },
        "trafficRouting: istio needs strategy: canary": {**mesh, "strategy": "shadow"},
        "stableSubset and candidateSubset must differ": {
            **mesh,
            "istio": {**route, "stableSubset": "candidate"},
        },
        "spec.istio.route: Required value": {**mesh, "istio": {"virtualService": "vs"}},
    }
    for message, spec in raw.items():
        obj = {
            "apiVersion": "sigmawatch.dev/v1alpha1",
            "kind": "ModelRollout",
            "metadata": {"name": "bad"},
            "spec": spec,
        }
        with pytest.raises(KubectlError) as rejected:
            plant.apply(models_namespace, obj)
        assert message in rejected.value.stderr, rejected.value.stderr
    ok = {"apiVersion": "sigmawatch.dev/v1alpha1", "kind": "ModelRollout"}
    plant.apply(models_namespace, {**ok, "metadata": {"name": "mesh"}, "spec": mesh})


def model_rollout(name: str, model_name: str, **spec: Any) -> dict[str, Any]:
    fast = {"intervalSeconds": 1, "minSamples": 50, "minStepSeconds": 0}
    return {
        "apiVersion": "sigmawatch.dev/v1alpha1",
        "kind": "ModelRollout",
        "metadata": {"name": name},
        "spec": {
            "modelRef": {"name": model_name},
            "candidate": {"version": "v2"},
            "strategy": "shadow",
            "analysis": fast,
            **spec,
        },
    }


def wait_rollout(plant: Plant, ns: str, name: str, check: Any, what: str) -> dict[str, Any]:
    return wait_for_status(
        plant.cluster.kubectl, "modelrollout", name, ns, check, timeout=60, what=what
    )


def two_versions(plant: Plant, ns: str, name: str, series: str) -> None:
    """v1 in production, v2 registered beside it (promote: false)."""
    plant.write_data(series, seed=8)
    plant.apply(ns, model(name, single(plant, series)))
    wait_model(plant, ns, name, lambda o: ready(o) and settled(o), "v1")
    plant.write_data(series, seed=9)
    second = single(plant, series, retrain={"nonce": "2"}, production={"promote": False})
    plant.apply(ns, model(name, second))
    wait_model(plant, ns, name, lambda o: o["status"].get("latestVersion") == "v2", "v2")


def holder(plant: Plant, series_id: str) -> str | None:
    series = plant.registry.get_series(series_id)
    assert series is not None
    return series.holder


def phase(expected: str) -> Any:
    return lambda o: (o.get("status") or {}).get("phase") == expected


def test_a_shadow_rollout_with_agreeing_statistics_is_promoted(
    plant: Plant, operator: OperatorProcess, models_namespace: str
) -> None:
    ns = models_namespace
    two_versions(plant, ns, "pump-6", "pump_6")
    plant.apply(ns, model_rollout("pump-6-missing", "pump-6", candidate={"version": "v7"}))
    obj = wait_rollout(
        plant,
        ns,
        "pump-6-missing",
        lambda o: condition(o, "Degraded").get("status") == "True",
        "the missing candidate reported",
    )
    assert condition(obj, "Degraded")["reason"] == "INVALID_VERSION"
    assert obj["status"]["phase"] == "Pending"
    plant.apply(ns, model_rollout("pump-6-shadow", "pump-6"))
    obj = wait_rollout(plant, ns, "pump-6-shadow", phase("Shadowing"), "shadowing")
    status = obj["status"]
    assert (status["seriesId"], status["stable"], status["candidate"]) == ("pump_6", "v1", "v2")
    assert holder(plant, "pump_6") == f"rollout:{status['rollout'][1:]}"
    # What the inference pods flush: stable's answers, the candidate scored beside them.
    now = datetime.now(UTC)
    plant.registry.record_stats(
        [
            StatsRow("pump_6", 1, now, predictions=100, latency=latency(2.0, 100)),
            StatsRow(
                "pump_6",
                2,
                now,
                predictions=100,
                latency=latency(2.0, 100),
                shadow_compared=100,
                shadow_agreed=99,
            ),
        ]
    )
    obj = wait_rollout(plant, ns, "pump-6-shadow", phase("Promoted"), "promoted")
    assert condition(obj, "Promoted")["status"] == "True"
    assert obj["status"]["lastAnalysis"]["action"] == "promote"
    assert plant.registry.get_production("pump_6").name == "v2"
    assert holder(plant, "pump_6") is None
    reasons = events(plant.cluster, ns)
    assert {"INVALID_VERSION", "Started", "Promoted"} <= set(reasons)
    printed = plant.cluster.kubectl("get", "mr", "pump-6-shadow", "-n", ns).stdout
    assert "Promoted" in printed
    assert "100" in printed


def test_deleting_an_active_rollout_aborts_it(
    plant: Plant, operator: OperatorProcess, models_namespace: str
) -> None:
    ns = models_namespace
    two_versions(plant, ns, "pump-8", "pump_8")
    plant.apply(ns, model_rollout("pump-8-canary", "pump-8", strategy="canary"))
    obj = wait_rollout(plant, ns, "pump-8-canary", phase("Progressing"), "progressing")
    assert obj["status"]["weight"] == 5
    assert "sigmawatch.dev/finalizer" in obj["metadata"]["finalizers"]
    rollout_id = int(obj["status"]["rollout"][1:])
    plant.cluster.kubectl(
        "delete", "modelrollout", "pump-8-canary", "-n", ns, "--wait=true", "--timeout=30s"
    )
    record = plant.registry.get_rollout(rollout_id)
    assert (record.state.phase.value, record.reason) == ("Aborted", "ModelRollout deleted")
    assert plant.registry.get_production("pump_8").name == "v1"
    assert holder(plant, "pump_8") is None


def test_a_canary_with_a_failing_candidate_is_rolled_back(
    plant: Plant, operator: OperatorProcess, models_namespace: str
) -> None:
    ns = models_namespace
    two_versions(plant, ns, "pump-9", "pump_9")
    analysis = {"intervalSeconds": 1, "minSamples": 50, "minStepSeconds": 0, "failureLimit": 2}
    spec = model_rollout("pump-9-canary", "pump-9", strategy="canary", analysis=analysis)
    plant.apply(ns, spec)
    obj = wait_rollout(plant, ns, "pump-9-canary", phase("Progressing"), "progressing")
    assert obj["status"]["weight"] == 5
    # What the pods flush: v2 answered 100 points at 5% and failed 40 more.
    now = datetime.now(UTC)
    plant.registry.record_stats(
        [
            StatsRow("pump_9", 1, now, predictions=1900, latency=latency(2.0, 1900)),
            StatsRow("pump_9", 2, now, predictions=100, errors=40, latency=latency(2.0, 100)),
        ]
    )
    obj = wait_rollout(plant, ns, "pump-9-canary", phase("RolledBack"), "rolled back")
    status = obj["status"]
    assert status["weight"] == 0
    assert "errorRate" in status["reason"]
    assert "2 consecutive intervals" in status["reason"]
    assert condition(obj, "RolledBack")["status"] == "True"
    assert condition(obj, "Progressing")["reason"] == "RolledBack"
    failing = [c for c in status["lastAnalysis"]["checks"] if c["passed"] is False]
    assert [c["name"] for c in failing] == ["errorRate"]
    assert failing[0]["value"] == pytest.approx(40 / 140)
    assert plant.registry.get_production("pump_9").name == "v1"
    assert holder(plant, "pump_9") is None
    found = get_json(plant.cluster.kubectl, "events", "-n", ns)["items"]
    rolled_back = [e for e in found if e["reason"] == "RolledBack"]
    assert len(rolled_back) == 1
    assert rolled_back[0]["type"] == "Warning"
    assert rolled_back[0]["involvedObject"]["name"] == "pump-9-canary"
    assert "errorRate" in rolled_back[0]["message"]
    assert {"Started", "RolledBack"} <= set(events(plant.cluster, ns))
    moves = plant.registry.audit(AuditQuery(series_id="pump_9", action="rollout.")).entries
    assert [(e.actor, e.outcome) for e in reversed(moves)][-1] == (
        f"operator/{ns}/pump-9-canary",
        "RolledBack",
    )


@pytest.fixture(scope="module")
def istio_crds(plant: Plant) -> None:
    install_istio_crds(plant.cluster)


def at_weight(weight: int, rollout: str | None = None) -> Any:
    def check(obj: dict[str, Any]) -> bool:
        status = obj.get("status") or {}
        named = rollout is None or status.get("rollout") != rollout
        return bool(named and status.get("weight") == weight and status.get("phase"))

    return check


@pytest.mark.usefixtures("istio_crds")
def test_istio_weights_move_at_every_step_and_back_to_stable_on_a_rollback(
    plant: Plant, operator: OperatorProcess, namespace: str
) -> None:
    ns = namespace
    plant.apply(ns, manifest_virtual_service())
    plant.apply(ns, istio_rollout("image"))
    obj = wait_rollout(plant, ns, "image", at_weight(5), "started at 5%")
    first = obj["status"]["rollout"]
    assert obj["status"]["phase"] == "Progressing"
    assert obj["status"]["istio"]["weights"] == {"stable": 95, "candidate": 5}
    assert route_weights(plant.cluster, ns) == {"stable": 95, "candidate": 5}
    assert route_holder(plant.cluster, ns) == first
    # The route's weights are set in the tick that moves the rollout, before its status.
    for weight in (25, 50, 100):
        flush_tracks(plant.registry)
        wait_rollout(plant, ns, "image", at_weight(weight), f"{weight}%")
        assert route_weights(plant.cluster, ns) == {"stable": 100 - weight, "candidate": weight}
    flush_tracks(plant.registry)
    obj = wait_rollout(plant, ns, "image", phase("Promoted"), "promoted")
    assert route_weights(plant.cluster, ns) == {"stable": 0, "candidate": 100}
    # Someone edits the route: it is set back to what the promoted rollout left.
    patch = [{"op": "replace", "path": "/spec/http/1/route/1/weight", "value": 30},
             {"op": "replace", "path": "/spec/http/1/route/0/weight", "value": 70}]  # fmt: skip
    plant.cluster.kubectl(
        "patch", "virtualservice", "sigmawatch-inference", "-n", ns, "--type=json",
        "-p", json.dumps(patch),
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while route_weights(plant.cluster, ns)["candidate"] != 100:
        assert time.monotonic() < deadline, "the edited route was not set back"
        time.sleep(0.5)
    # A second rollout takes the route; its candidate track fails.
    plant.apply(ns, istio_rollout("image-2", failureLimit=1))
    obj = wait_rollout(plant, ns, "image-2", at_weight(5, rollout=first), "second at 5%")
    assert route_weights(plant.cluster, ns) == {"stable": 95, "candidate": 5}
    flush_tracks(plant.registry, errors=60)
    obj = wait_rollout(plant, ns, "image-2", phase("RolledBack"), "rolled back")
    assert route_weights(plant.cluster, ns) == {"stable": 100, "candidate": 0}
    assert "errorRate" in obj["status"]["reason"]
    assert condition(obj, "RolledBack")["status"] == "True"
    time.sleep(3)  # the first, promoted rollout leaves the route to the newer one
    assert route_weights(plant.cluster, ns) == {"stable": 100, "candidate": 0}
    assert route_holder(plant.cluster, ns) == obj["status"]["rollout"]
    reasons = events(plant.cluster, ns)
    assert {"Started", "Advanced", "Promoted", "RouteRepaired", "RolledBack"} <= set(reasons)


@pytest.mark.usefixtures("istio_crds")
def test_the_json_patch_sets_only_the_weights_and_fails_on_a_changed_object(
    plant: Plant, namespace: str
) -> None:
    ns = namespace
    plant.apply(ns, manifest_virtual_service())
    kube = KubeApi(plant.cluster.api_client())
    route = IstioRoute(ns, "sigmawatch-inference", "inference")
    before = kube.get_virtual_service(ns, "sigmawatch-inference")
    view = locate(before, route)
    assert (view.index, view.weights, view.holder) == (1, Weights(100, 0), None)
    kube.patch_virtual_service(
        ns, "sigmawatch-inference", patch_ops(view, route, Weights(90, 10), "r99")
    )
    after = kube.get_virtual_service(ns, "sigmawatch-inference")
    assert after is not None
    assert before is not None
    assert locate(after, route).weights == Weights(90, 10)
    assert after["metadata"]["annotations"]["sigmawatch.dev/rollout"] == "r99"
    for routes in (before["spec"]["http"], after["spec"]["http"]):
        for destination in routes[1]["route"]:
            destination.pop("weight")
    assert after["spec"] == before["spec"]  # timeout, retries, the probe route: untouched
    with pytest.raises(VirtualServiceConflictError):  # read before the change above
        kube.patch_virtual_service(
            ns, "sigmawatch-inference", patch_ops(view, route, Weights(50, 50), None)
        )
    invalid = patch_ops(locate(after, route), route, Weights(90, 10), None)
    for op in invalid:
        if op["path"].endswith("/weight"):
            op["value"] = "ten"  # a weight the schema refuses: not a conflict
    with pytest.raises(VirtualServiceRejectedError):
        kube.patch_virtual_service(ns, "sigmawatch-inference", invalid)
    assert kube.get_virtual_service(ns, "no-such-service") is None


@pytest.mark.usefixtures("istio_crds")
def test_kubernetes_calls_are_client_spans_of_the_tick_that_makes_them(
    plant: Plant, namespace: str
) -> None:
    """OBS-5: inside a traced reconcile or rollout tick, each API call is a span."""
    plant.apply(namespace, manifest_virtual_service())
    kube = KubeApi(plant.cluster.api_client())
    exporter = InMemorySpanExporter()
    assert tracing.configure("sigmawatch-operator", {}, exporter=exporter)
    try:
        with tracing.span("operator.rollout") as tick:
            assert kube.get_virtual_service(namespace, "sigmawatch-inference") is not None
            assert kube.get_model(namespace, "no-such-model") is None  # a 404 is an answer
        assert kube.get_virtual_service(namespace, "sigmawatch-inference")  # no trace: no span
        spans = {s.name: s for s in exporter.get_finished_spans()}
    finally:
        tracing.shutdown()
    assert set(spans) == {"operator.rollout", "k8s.get_virtual_service", "k8s.get_model"}
    for name in ("k8s.get_virtual_service", "k8s.get_model"):
        call = spans[name]
        assert call.parent is not None
        assert call.parent.span_id == tick.get_span_context().span_id
        assert call.kind is SpanKind.CLIENT
        assert call.attributes == {"k8s.namespace.name": namespace}
        assert call.status.status_code is StatusCode.UNSET


def test_deleting_a_model_keeps_its_versions(
    plant: Plant, operator: OperatorProcess, models_namespace: str
) -> None:
    ns = models_namespace
    plant.write_data("pump_7", seed=9)
    plant.apply(ns, model("pump-7", single(plant, "pump_7")))
    wait_model(plant, ns, "pump-7", lambda o: ready(o) and settled(o), "v1")
    plant.cluster.kubectl(
        "delete", "anomalymodel", "pump-7", "-n", ns, "--wait=true", "--timeout=30s"
    )
    assert plant.registry.get_production("pump_7").name == "v1"


def test_operator_metrics(plant: Plant, operator: OperatorProcess) -> None:
    text = operator.metrics()
    assert "sigmawatch_operator_reconciles_total" in text
    assert "sigmawatch_operator_training_jobs_created_total" in text
    assert 'sigmawatch_operator_models{ready="true"}' in text
    assert 'sigmawatch_operator_rollouts{phase="Promoted"}' in text
    assert "sigmawatch_operator_rollout_promotion_seconds_count" in text
