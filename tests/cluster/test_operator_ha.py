"""Operator processes as deployed (AV-1): restarts, replicas, namespace scope and RBAC."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.istio import (
    flush_tracks,
    install_istio_crds,
    istio_rollout,
    manifest_virtual_service,
    route_weights,
)
from support.operator import OperatorProcess, condition, get_json, wait_for_status
from support.plant import Plant, model
from support.procs import wait_for

pytestmark = pytest.mark.usefixtures("kubelet")

ROOT = Path(__file__).resolve().parents[2]


def fleet(plant: Plant, prefix: str, n: int) -> dict[str, object]:
    for i in range(n):
        plant.write_data(f"{prefix}{i:02d}", seed=700 + i)
    return {
        "series": {"selector": {"prefix": prefix}},
        "source": {"uri": plant.source_uri},
        "job": {"seriesPerPod": n, "parallelism": 1},
    }


def peering_priority(operator: OperatorProcess) -> int:
    found: list[int] = []

    def logged() -> bool:
        found[:] = [int(p) for p in re.findall(r'"peering_priority":(\d+)', operator.log())]
        return bool(found)

    wait_for(logged, timeout=30, what=f"{operator.process.name}'s peering priority")
    return found[0]


def peer_priorities(plant: Plant) -> set[int]:
    peering = get_json(plant.cluster.kubectl, "clusterkopfpeering", "sigmawatch")
    return {int(peer["priority"]) for peer in (peering.get("status") or {}).values()}


def recorded(obj: dict[str, object]) -> bool:
    status = obj.get("status") or {}
    assert isinstance(status, dict)
    return bool((status.get("lastJob") or {}).get("finishedAt"))


def test_a_restarted_operator_adopts_the_running_job(
    plant: Plant, models_namespace: str, artifacts_dir: Path
) -> None:
    ns = models_namespace
    first = plant.start_operator("operator-before-restart", artifacts_dir / "logs")
    try:
        plant.apply(ns, model("restart", fleet(plant, "restart_", 30)))
        wait_for_status(
            plant.cluster.kubectl,
            "anomalymodel",
            "restart",
            ns,
            lambda o: condition(o, "Training").get("status") == "True",
            what="Job started",
        )
    finally:
        first.stop()  # gone while its Job trains
    jobs = plant.jobs(ns, "restart")
    assert len(jobs) == 1
    second = plant.start_operator("operator-after-restart", artifacts_dir / "logs")
    try:
        obj = wait_for_status(
            plant.cluster.kubectl, "anomalymodel", "restart", ns, recorded, what="run recorded"
        )
    finally:
        second.stop()
    assert [j["metadata"]["name"] for j in plant.jobs(ns, "restart")] == [
        jobs[0]["metadata"]["name"]
    ]
    status = obj["status"]
    assert status["lastJob"]["name"] == jobs[0]["metadata"]["name"]
    assert (status["seriesCovered"], status["seriesTrained"]) == (30, 30)
    assert condition(obj, "Ready")["status"] == "True"


def test_two_replicas_one_acts_and_the_other_takes_over(
    plant: Plant, models_namespace: str, artifacts_dir: Path
) -> None:
    ns = models_namespace
    replicas = [
        plant.start_operator(f"operator-replica-{i}", artifacts_dir / "logs") for i in (1, 2)
    ]
    try:
        # The highest peering priority acts (decision 0007); each replica logs its own.
        priorities = [peering_priority(r) for r in replicas]
        active = replicas[priorities.index(max(priorities))]
        standby = next(r for r in replicas if r is not active)
        # Both replicas registered in the peering: from now on only the active one acts.
        wait_for(
            lambda: set(priorities) <= peer_priorities(plant),
            timeout=30,
            what="both replicas in the peering",
        )
        plant.write_data("ha_one", seed=1)
        plant.apply(
            ns, model("ha-one", {"series": {"id": "ha_one"}, "source": {"uri": plant.source_uri}})
        )
        wait_for_status(
            plant.cluster.kubectl, "anomalymodel", "ha-one", ns, recorded, what="ha-one trained"
        )
        assert len(plant.jobs(ns, "ha-one")) == 1
        assert "ha-one" in active.log()
        assert "ha-one" not in standby.log()

        active.stop()
        plant.write_data("ha_two", seed=2)
        plant.apply(
            ns, model("ha-two", {"series": {"id": "ha_two"}, "source": {"uri": plant.source_uri}})
        )
        # The standby resumes once the active one's peering record expires (10 s here).
        obj = wait_for_status(
            plant.cluster.kubectl,
            "anomalymodel",
            "ha-two",
            ns,
            recorded,
            what="ha-two trained by the standby",
            timeout=90,
        )
        assert obj["status"]["productionVersion"] == "v1"
        assert "ha-two" in standby.log()
        assert len(plant.jobs(ns, "ha-two")) == 1
    finally:
        for replica in replicas:
            replica.stop()


def manifests_role(plant: Plant, ns: str) -> Path:
    """The operator's ServiceAccount, Role and RoleBinding exactly as manifests/base has
    them, and the namespace's KopfPeering; a kubeconfig that authenticates as it."""
    for obj in yaml.safe_load_all((ROOT / "manifests/base/operator-rbac.yaml").read_text()):
        obj["metadata"]["namespace"] = ns
        for subject in obj.get("subjects", []):
            subject["namespace"] = ns
        plant.apply(ns, obj)
    plant.apply(
        ns, {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": "sigmawatch"}}
    )
    return plant.cluster.service_account_kubeconfig(ns, "sigmawatch-operator")


def test_a_namespaced_operator_works_with_the_manifests_role_alone(
    plant: Plant, models_namespace: str, artifacts_dir: Path
) -> None:
    ns = models_namespace
    kubeconfig = manifests_role(plant, ns)
    other = (
        plant.cluster.kubectl("create", "namespace", f"{ns}-other").stdout.split("/")[1].split()[0]
    )
    plant.prepare_namespace(other)

    operator = plant.start_operator(
        "operator-namespaced",
        artifacts_dir / "logs",
        args=["--namespace", ns],
        KUBECONFIG=str(kubeconfig),
    )
    try:
        plant.write_data("scoped", seed=3)
        spec = {"series": {"id": "scoped"}, "source": {"uri": plant.source_uri}}
        plant.apply(other, model("elsewhere", spec))
        plant.apply(ns, model("scoped", spec))
        obj = wait_for_status(
            plant.cluster.kubectl, "anomalymodel", "scoped", ns, recorded, what="trained"
        )
        assert obj["status"]["productionVersion"] == "v1"
        assert "Forbidden" not in operator.log()
        # Another namespace's model is not this operator's business.
        elsewhere = plant.cluster.kubectl(
            "get", "anomalymodel", "elsewhere", "-n", other, "-o", "json"
        )
        assert "status" not in json.loads(elsewhere.stdout)
    finally:
        operator.stop()
        plant.cluster.kubectl("delete", "namespace", other, "--wait=false")


def at_weight(weight: int) -> Any:
    return lambda o: (o.get("status") or {}).get("weight") == weight


def test_a_restarted_operator_continues_an_istio_rollout_at_its_step(
    plant: Plant, models_namespace: str, artifacts_dir: Path
) -> None:
    """Under the manifests' Role alone: the VirtualService grants are enough."""
    ns = models_namespace
    install_istio_crds(plant.cluster)
    kubeconfig = manifests_role(plant, ns)
    plant.apply(ns, manifest_virtual_service())

    def operator(name: str) -> OperatorProcess:
        return plant.start_operator(
            name, artifacts_dir / "logs", args=["--namespace", ns], KUBECONFIG=str(kubeconfig)
        )

    def wait(check: Any, what: str) -> dict[str, Any]:
        return wait_for_status(
            plant.cluster.kubectl, "modelrollout", "image", ns, check, timeout=60, what=what
        )

    first = operator("operator-istio-before-restart")
    try:
        plant.apply(ns, istio_rollout("image"))
        wait(at_weight(5), "5%")
        flush_tracks(plant.registry)
        obj = wait(at_weight(25), "25%")
        assert route_weights(plant.cluster, ns) == {"stable": 75, "candidate": 25}
    finally:
        first.stop()
    rollout = obj["status"]["rollout"]
    flush_tracks(plant.registry)  # traffic while no operator runs
    second = operator("operator-istio-after-restart")
    try:
        obj = wait(at_weight(50), "50% after the restart")
    finally:
        second.stop()
    assert (obj["status"]["rollout"], obj["status"]["step"]) == (rollout, 2)
    assert route_weights(plant.cluster, ns) == {"stable": 50, "candidate": 50}
    weights = [t.weight for t in plant.registry.transitions(int(rollout[1:]))]
    assert weights == [5, 25, 50]  # continued at its step, never back to 5%
    assert "Forbidden" not in first.log() + second.log()
