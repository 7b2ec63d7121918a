"""The training Job a model gets, and reading a Job's outcome."""

from __future__ import annotations

from typing import Any

from sigmawatch_operator.config import OperatorConfig
from sigmawatch_operator.jobs import KEY_LABEL, MODEL_LABEL, build_job, job_name, job_state
from sigmawatch_operator.model_spec import parse_spec
from sigmawatch_operator.run_size import RunSize

MODEL: dict[str, Any] = {
    "metadata": {"name": "pumps", "namespace": "plant", "uid": "uid-1"},
}


def test_job_trains_every_shard_with_bounded_parallelism() -> None:
    spec = parse_spec(
        {
            "series": {"selector": {"prefix": "pump_"}},
            "source": {"uri": "s3://b/train/{series_id}.npy"},
            "detector": {"kind": "mad", "params": {"threshold": 3.1234567}},
            "window": {"points": 50000},
            "retention": {"keepVersions": 5},
            "job": {"parallelism": 2},
        }
    )
    job = build_job(
        model=MODEL,
        spec=spec,
        key="k" * 64,
        name="pumps-x",
        size=RunSize(5, 2, 3600, 1.0),
        config=OperatorConfig(),
    )
    assert job["metadata"]["ownerReferences"][0] == {
        "apiVersion": "sigmawatch.dev/v1alpha1",
        "kind": "AnomalyModel",
        "name": "pumps",
        "uid": "uid-1",
        "controller": True,
        "blockOwnerDeletion": True,
    }
    assert job["metadata"]["labels"][MODEL_LABEL] == "pumps"
    assert job["metadata"]["labels"][KEY_LABEL] == "k" * 16
    body = job["spec"]
    assert (body["completionMode"], body["completions"], body["parallelism"]) == ("Indexed", 5, 2)
    # Bad input and rejected series fail the index; an outage (exit 4) is retried.
    assert body["podFailurePolicy"]["rules"][0]["onExitCodes"]["values"] == [2, 3]
    container = body["template"]["spec"]["containers"][0]
    assert container["command"] == ["sigmawatch"]
    args = container["args"]
    assert args[:3] == ["train-fleet", "--run-id", "pumps-x"]
    for pair in (
        ["--shard-count", "5"],
        ["--source-uri", "s3://b/train/{series_id}.npy"],
        ["--prefix", "pump_"],
        ["--detector", "mad"],
        ["--param", "threshold=3.1234567"],  # every digit reaches the pod
        ["--window-points", "50000"],
        ["--keep-versions", "5"],
    ):
        index = args.index(pair[0])
        assert args[index : index + 2] == pair
    assert "--no-promote" not in args
    env = {e["name"]: e for e in container["env"]}
    assert env["SIGMAWATCH_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == "url"
    assert "SIGMAWATCH_JOB_SERIES" not in env  # a selector is resolved by the Job itself
    assert body["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_pinned_models_train_without_promoting() -> None:
    spec = parse_spec(
        {"series": {"id": "s1"}, "source": {"dataset": {}}, "production": {"pinnedVersion": "v2"}}
    )
    container = build_job(
        model=MODEL,
        spec=spec,
        key="k" * 64,
        name="n",
        size=RunSize(1, 2, 3600, 1.0),
        config=OperatorConfig(),
    )["spec"]["template"]["spec"]["containers"][0]
    assert "--no-promote" in container["args"]
    assert "--dataset" in container["args"]
    assert {"name": "SIGMAWATCH_JOB_SERIES", "value": "s1"} in container["env"]


def test_job_names_fit_pod_hostnames() -> None:
    name = job_name("m" * 253, "abcdef0123456789", 1_700_000_000)
    assert len(name) + len("-99999") <= 63
    assert name.endswith("-abcdef01-6553f100")


def test_job_state_reads_terminal_conditions() -> None:
    running = job_state({"metadata": {"name": "j"}, "status": {"active": 1}})
    assert not running.finished
    done = job_state(
        {
            "metadata": {"name": "j", "labels": {KEY_LABEL: "abc"}},
            "status": {
                "conditions": [
                    {"type": "SuccessCriteriaMet", "status": "True"},
                    {"type": "Complete", "status": "True", "reason": "Completed"},
                ],
                "completionTime": "2026-11-25T10:00:00Z",
            },
        }
    )
    assert (done.finished, done.succeeded, done.key) == (True, True, "abc")
    assert done.completion_time == "2026-11-25T10:00:00Z"
    failed = job_state(
        {
            "metadata": {"name": "j"},
            "status": {
                "conditions": [
                    {"type": "FailureTarget", "status": "True"},
                    {
                        "type": "Failed",
                        "status": "True",
                        "reason": "FailedIndexes",
                        "message": "Job has failed indexes",
                    },
                ]
            },
        }
    )
    assert (failed.finished, failed.succeeded, failed.reason) == (True, False, "FailedIndexes")
