"""Operator restarts and replicas (AV-1): no duplicate Jobs, one active replica."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.operator import condition, wait_for_status
from support.plant import Plant, model
from support.procs import wait_for

pytestmark = pytest.mark.usefixtures("kubelet")


def fleet(plant: Plant, prefix: str, n: int) -> dict[str, object]:
    for i in range(n):
        plant.write_data(f"{prefix}{i:02d}", seed=700 + i)
    return {
        "series": {"selector": {"prefix": prefix}},
        "source": {"uri": plant.source_uri},
        "job": {"seriesPerPod": n, "parallelism": 1},
    }


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
        wait_for(
            lambda: sum("Pausing operations" in r.log() for r in replicas) == 1,
            timeout=30,
            what="one replica to pause",
        )
        active = next(r for r in replicas if "Pausing operations" not in r.log())
        standby = next(r for r in replicas if r is not active)

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
