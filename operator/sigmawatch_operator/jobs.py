"""The training Job of an AnomalyModel, and reading its outcome back.

One Indexed Job trains a whole model: each index trains a deterministic
shard of the series (`sigmawatch train-fleet`), so a 100k-series fleet is
one Job with bounded parallelism, not 100k objects. Exit code 3 means the
pod finished but some series were rejected: the podFailurePolicy fails that
index without retrying, because retrying bad data changes nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sigmawatch_operator.config import OperatorConfig
from sigmawatch_operator.model_spec import ModelSpec

GROUP = "sigmawatch.dev"
VERSION = "v1alpha1"
MODEL_LABEL = f"{GROUP}/model"
KEY_LABEL = f"{GROUP}/training-key"
CONTAINER = "train"
KEY_CHARS = 16  # the training key as carried by a Job's label
EXIT_SERIES_FAILED = 3
# Job names end up in pod hostnames (<job>-<index>, at most 63 characters).
_NAME_ROOM = 36


def job_name(model: str, key: str, now: float | None = None) -> str:
    stamp = format(int(now if now is not None else time.time()), "x")
    base = model[:_NAME_ROOM].rstrip("-.")
    return f"{base}-{key[:8]}-{stamp}"


def train_args(spec: ModelSpec, run_id: str, shards: int) -> list[str]:
    args = ["train-fleet", "--run-id", run_id, "--shard-count", str(shards)]
    args += ["--source-uri", spec.source_uri] if spec.source_uri else ["--dataset"]
    if spec.prefix:
        args += ["--prefix", spec.prefix]
    args += ["--detector", spec.detector.kind]
    for name, value in sorted(spec.detector.params.items()):
        args += ["--param", f"{name}={value!r}"]  # repr: every digit, no rounding
    if spec.window_points:
        args += ["--window-points", str(spec.window_points)]
    if spec.window:
        args += ["--window", spec.window]
    args += ["--keep-versions", str(spec.keep_versions)]
    if spec.pinned_version is not None or not spec.promote:
        args.append("--no-promote")
    return args


def _env(spec: ModelSpec, config: OperatorConfig) -> list[dict[str, Any]]:
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
    if spec.explicit_series and not spec.single:
        # Explicit lists travel in the environment: argv limits are tighter.
        env.append({"name": "SIGMAWATCH_JOB_SERIES", "value": ",".join(spec.explicit_series)})
    elif spec.single:
        env.append({"name": "SIGMAWATCH_JOB_SERIES", "value": spec.series_id})
    return env


def build_job(
    *,
    model: dict[str, Any],
    spec: ModelSpec,
    key: str,
    name: str,
    shards: int,
    config: OperatorConfig,
) -> dict[str, Any]:
    meta = model["metadata"]
    labels = {
        "app.kubernetes.io/name": "sigmawatch-training",
        "app.kubernetes.io/managed-by": "sigmawatch-operator",
        MODEL_LABEL: meta["name"],
        KEY_LABEL: key[:KEY_CHARS],
    }
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": config.training_image,
        "imagePullPolicy": config.image_pull_policy,
        "command": ["sigmawatch"],
        "args": train_args(spec, name, shards),
        "env": _env(spec, config),
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
            "completions": shards,
            "parallelism": min(spec.parallelism, shards),
            "backoffLimitPerIndex": spec.backoff_limit_per_index,
            "activeDeadlineSeconds": spec.active_deadline_s,
            "ttlSecondsAfterFinished": config.job_ttl_s,
            "podFailurePolicy": {
                "rules": [
                    {
                        "action": "FailIndex",
                        "onExitCodes": {
                            "containerName": CONTAINER,
                            "operator": "In",
                            "values": [EXIT_SERIES_FAILED],
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
