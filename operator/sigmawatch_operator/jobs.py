"""The training Job of an AnomalyModel, and reading its outcome back.

One Indexed Job trains a whole model: each index trains a deterministic
shard of the series (`sigmawatch train-fleet`), so a 100k-series fleet is
one Job with bounded parallelism, not 100k objects. The Job's name is
deterministic (model, training key, the run's due time), so two operator
replicas that race create one Job: the second gets 409 and adopts it.
The arguments, environment and exit codes are the contract in
`sigmawatch.training_job`; exits in `NO_RETRY` (bad input, rejected
series) fail that index without retrying, because retrying bad data
changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sigmawatch import training_job
from sigmawatch.tracing import environment as trace_environment
from sigmawatch.training_job import GROUP, VERSION, FleetRun
from sigmawatch_operator.config import OperatorConfig
from sigmawatch_operator.model_spec import ModelSpec
from sigmawatch_operator.run_size import RunSize

MODEL_LABEL = f"{GROUP}/model"
KEY_LABEL = f"{GROUP}/training-key"
KEY_CHARS = 16  # the training key as carried by a Job's label
# Job names end up in pod hostnames (<job>-<index>, at most 63 characters).
_NAME_ROOM = 36


def job_name(model: str, key: str, due: float) -> str:
    """The same on every replica for the same model, inputs and due time."""
    base = model[:_NAME_ROOM].rstrip("-.")
    return f"{base}-{key[:8]}-{format(int(due), 'x')}"


def shard_lists_prefix(name: str) -> str:
    """Where a Job's per-index series lists live in the artifact store."""
    return f"runs/{name}/"


def fleet_run(
    spec: ModelSpec, run_id: str, shards: int, shard_lists: str | None = None
) -> FleetRun:
    return FleetRun(
        run_id=run_id,
        detector=spec.detector,
        source_uri=spec.source_uri,
        prefix=spec.prefix,
        series=spec.explicit_series,
        shard_count=shards,
        window_points=spec.window_points,
        window=spec.window,
        keep_versions=spec.keep_versions,
        promote=spec.promote and spec.pinned_version is None,
        shard_lists=shard_lists,
    )


def _env(run: FleetRun, namespace: str, config: OperatorConfig) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {
            "name": "SIGMAWATCH_DATABASE_URL",
            "valueFrom": {"secretKeyRef": {"name": config.database_secret, "key": "url"}},
        },
        {"name": "SIGMAWATCH_LOG_LEVEL", "value": "INFO"},
    ]
    if config.s3_secret:
        for name, key in (
            ("AWS_ACCESS_KEY_ID", "access-key-id"),
            ("AWS_SECRET_ACCESS_KEY", "secret-access-key"),
        ):
            env.append(
                {
                    "name": name,
                    "valueFrom": {
                        "secretKeyRef": {"name": config.s3_secret, "key": key, "optional": True}
                    },
                }
            )
    env += [
        {"name": name, "value": value} for name, value in training_job.env(run, namespace).items()
    ]
    # OBS-5: the Job's training spans join the trace of the reconcile that creates it.
    env += [{"name": name, "value": value} for name, value in trace_environment().items()]
    return env


def build_job(
    *,
    model: dict[str, Any],
    spec: ModelSpec,
    key: str,
    name: str,
    size: RunSize,
    config: OperatorConfig,
    shard_lists: str | None = None,
) -> dict[str, Any]:
    """`model` needs metadata name, namespace and uid (the owner reference)."""
    meta = model["metadata"]
    run = fleet_run(spec, name, size.shards, shard_lists)
    labels = {
        "app.kubernetes.io/name": "sigmawatch-training",
        "app.kubernetes.io/managed-by": "sigmawatch-operator",
        MODEL_LABEL: meta["name"],
        KEY_LABEL: key[:KEY_CHARS],
    }
    container: dict[str, Any] = {
        "name": training_job.CONTAINER,
        "image": config.training_image,
        "imagePullPolicy": config.image_pull_policy,
        "command": [training_job.COMMAND],
        "args": training_job.to_args(run),
        "env": _env(run, meta["namespace"], config),
        "envFrom": [{"configMapRef": {"name": config.config_map, "optional": True}}],
        "resources": spec.resources
        or {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": meta["namespace"],
            "labels": labels,
            "ownerReferences": [
                {
                    "apiVersion": f"{GROUP}/{VERSION}",
                    "kind": "AnomalyModel",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "completionMode": "Indexed",
            "completions": size.shards,
            "parallelism": size.parallelism,
            "backoffLimitPerIndex": spec.backoff_limit_per_index,
            "activeDeadlineSeconds": size.deadline_s,
            "ttlSecondsAfterFinished": config.job_ttl_s,
            "podFailurePolicy": {
                "rules": [
                    {
                        "action": "FailIndex",
                        "onExitCodes": {
                            "containerName": training_job.CONTAINER,
                            "operator": "In",
                            "values": [int(code) for code in training_job.NO_RETRY],
                        },
                    }
                ]
            },
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "serviceAccountName": config.job_service_account,
                    "automountServiceAccountToken": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 10001,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                },
            },
        },
    }


@dataclass(frozen=True, slots=True)
class JobState:
    name: str
    key: str
    created: str | None
    finished: bool
    succeeded: bool
    reason: str | None
    message: str | None
    completion_time: str | None


def job_state(job: dict[str, Any]) -> JobState:
    """Where a Job stands, from its conditions (Complete / Failed are terminal)."""
    meta = job.get("metadata") or {}
    status = job.get("status") or {}
    conditions = {
        c.get("type"): c for c in status.get("conditions") or [] if c.get("status") == "True"
    }
    failed = conditions.get("Failed")
    complete = conditions.get("Complete")
    terminal = failed or complete
    return JobState(
        name=meta.get("name", ""),
        key=(meta.get("labels") or {}).get(KEY_LABEL, ""),
        created=meta.get("creationTimestamp"),
        finished=terminal is not None,
        succeeded=complete is not None and failed is None,
        reason=terminal.get("reason") if terminal else None,
        message=terminal.get("message") if terminal else None,
        completion_time=status.get("completionTime") or (terminal or {}).get("lastTransitionTime"),
    )
