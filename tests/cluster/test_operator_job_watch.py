"""A finished training Job reaches its model's status at once, not on the timer (issue 10)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from support.operator import get_json, wait_for_status
from support.plant import Plant, model

pytestmark = pytest.mark.usefixtures("kubelet")


def test_a_finished_job_is_recorded_long_before_the_next_timer_tick(
    plant: Plant, models_namespace: str, artifacts_dir: Path
) -> None:
    ns = models_namespace
    # The timer would not look again for five minutes.
    operator = plant.start_operator(
        "operator-job-watch", artifacts_dir / "logs", SIGMAWATCH_OPERATOR_RECONCILE_INTERVAL_S="300"
    )
    try:
        plant.write_data("watched_1", seed=91)
        plant.apply(
            ns,
            model("watched", {"series": {"id": "watched_1"}, "source": {"uri": plant.source_uri}}),
        )
        started = time.monotonic()
        obj = wait_for_status(
            plant.cluster.kubectl,
            "anomalymodel",
            "watched",
            ns,
            lambda o: bool(((o.get("status") or {}).get("lastJob") or {}).get("finishedAt")),
            what="the run recorded",
            timeout=120,
        )
        assert time.monotonic() - started < 120  # far from the 300 s tick
    finally:
        operator.stop()
    assert obj["status"]["lastJob"]["phase"] == "Succeeded"
    assert obj["status"]["productionVersion"] == "v1"
    annotations = get_json(plant.cluster.kubectl, "anomalymodel", "watched", "-n", ns)["metadata"][
        "annotations"
    ]
    job = obj["status"]["lastJob"]["name"]
    assert annotations["training.sigmawatch.dev/finished-job"] == f"{job} succeeded"
