"""The training-Job contract: what the operator writes is what the CLI reads."""

from __future__ import annotations

from typing import Any

import kopf
import pytest
from kubernetes.client.exceptions import ApiException

from sigmawatch import training_job
from sigmawatch.errors import ErrorCode, SigmawatchError, StorageUnavailableError
from sigmawatch_inference.cli import parser
from sigmawatch_operator.app import failure
from sigmawatch_operator.config import OperatorConfig
from sigmawatch_operator.jobs import build_job, fleet_run
from sigmawatch_operator.model_spec import parse_spec
from sigmawatch_operator.run_size import RunSize

MODEL: dict[str, Any] = {"metadata": {"name": "pumps", "namespace": "plant", "uid": "u"}}


@pytest.mark.parametrize(
    "spec",
    [
        {
            "series": {"selector": {"prefix": "pump_"}},
            "source": {"uri": "s3://b/train/{series_id}.npy"},
            "detector": {"kind": "mad", "params": {"threshold": 3.1234567890123}},
            "window": {"points": 50000, "duration": "30d"},
            "retention": {"keepVersions": 5},
        },
        {
            "series": {"ids": ["a", "b", "c"]},
            "source": {"dataset": {}},
            "production": {"promote": False},
        },
        {"series": {"id": "s1"}, "source": {"dataset": {}}, "production": {"pinnedVersion": "v2"}},
    ],
)
def test_the_cli_reads_back_exactly_the_run_the_operator_wrote(spec: dict[str, Any]) -> None:
    parsed = parse_spec(spec)
    job = build_job(
        model=MODEL,
        spec=parsed,
        key="k" * 64,
        name="pumps-x",
        size=RunSize(3, 2, 3600, 1.0),
        config=OperatorConfig(),
    )
    container = job["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    args = parser().parse_args(container["args"])  # the real CLI's parser
    assert args.run is not None
    read = training_job.from_args(args, env)
    assert read == fleet_run(parsed, "pumps-x", 3)
    assert container["command"] == [training_job.COMMAND]
    policy = job["spec"]["podFailurePolicy"]["rules"][0]["onExitCodes"]
    assert policy["containerName"] == container["name"] == training_job.CONTAINER
    assert set(policy["values"]) == {int(code) for code in training_job.NO_RETRY}


def test_the_pod_index_comes_from_kubernetes_unless_given() -> None:
    run = training_job.FleetRun(
        "r", parse_spec({"series": {"id": "s"}, "source": {"dataset": {}}}).detector
    )
    assert training_job.shard_index(run, {training_job.ENV_INDEX: "4"}) == 4
    assert training_job.shard_index(run, {}) == 0


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (StorageUnavailableError("model registry unavailable; retry"), kopf.TemporaryError),
        (ApiException(status=503), kopf.TemporaryError),
        (SigmawatchError(ErrorCode.ARTIFACT_CORRUPT, "archive missing"), kopf.PermanentError),
    ],
)
def test_only_outages_are_retried_soon(exc: Exception, kind: type) -> None:
    assert isinstance(failure(exc, "reconcile failed"), kind)


def test_a_bug_is_not_disguised_as_either() -> None:
    assert failure(KeyError("x"), "reconcile failed") is None
