"""The test cluster behaves like a real one: Jobs, GC, Deployments, validation, CRDs."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from support.kube import Cluster, wait_for_object
from support.kubelet import FakeKubelet

type Json = dict[str, Any]

IMAGE = "registry.example/sigmawatch:test"  # never pulled: the fake kubelet runs commands


def condition(obj: Json, kind: str) -> Json | None:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == kind), None)


def has_condition(kind: str) -> Callable[[Json], bool]:
    return lambda obj: (c := condition(obj, kind)) is not None and c["status"] == "True"


def job(name: str, command: list[str], **spec: Any) -> Json:
    container = {"name": "main", "image": IMAGE, "command": command}
    container.update(spec.pop("container", {}))
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "template": {"spec": {"restartPolicy": "Never", "containers": [container]}},
            **spec,
        },
    }


def create(cluster: Cluster, path: str, body: Json) -> Json:
    with cluster.http() as http:
        response = http.post(path, json=body)
    assert response.is_success, response.text
    created: Json = response.json()
    return created


def create_job(cluster: Cluster, namespace: str, body: Json) -> Json:
    return create(cluster, f"/apis/batch/v1/namespaces/{namespace}/jobs", body)


def job_pods(cluster: Cluster, namespace: str, job_name: str) -> list[Json]:
    with cluster.http() as http:
        response = http.get(
            f"/api/v1/namespaces/{namespace}/pods",
            params={"labelSelector": f"batch.kubernetes.io/job-name={job_name}"},
        )
        response.raise_for_status()
        items: list[Json] = response.json()["items"]
        return items


def wait_for_job(cluster: Cluster, namespace: str, name: str, kind: str) -> Json:
    return wait_for_object(
        cluster,
        f"/apis/batch/v1/namespaces/{namespace}/jobs/{name}",
        has_condition(kind),
        timeout=60,
        what=f"job {name} {kind}",
    )


def test_job_runs_with_env_from_secret_and_completes(
    cluster: Cluster, kubelet: FakeKubelet, namespace: str, tmp_path: Path
) -> None:
    secret = {"metadata": {"name": "greeting"}, "stringData": {"word": "hello"}}
    create(cluster, f"/api/v1/namespaces/{namespace}/secrets", secret)
    config_map = {"metadata": {"name": "settings"}, "data": {"LEVEL": "debug"}}
    create(cluster, f"/api/v1/namespaces/{namespace}/configmaps", config_map)
    out = tmp_path / "out.json"
    code = (
        "import json, os, sys; keys = ('GREETING', 'POD', 'NS', 'CFG_LEVEL', 'MSG', 'ESCAPED');"
        "json.dump({k: os.environ.get(k) for k in keys}, open(sys.argv[1], 'w'));"
        "print('done', os.environ['GREETING'])"
    )
    container = {
        "args": ["$(OUT)"],
        "envFrom": [{"configMapRef": {"name": "settings"}, "prefix": "CFG_"}],
        "env": [
            {"name": "OUT", "value": str(out)},
            {
                "name": "GREETING",
                "valueFrom": {"secretKeyRef": {"name": "greeting", "key": "word"}},
            },
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "MSG", "value": "$(GREETING) from $(NS)"},
            {"name": "ESCAPED", "value": "$$(GREETING)"},
        ],
    }
    body = job("hello", [sys.executable, "-c", code], container=container)
    create_job(cluster, namespace, body)

    finished = wait_for_job(cluster, namespace, "hello", "Complete")

    assert finished["status"]["succeeded"] == 1
    [pod] = job_pods(cluster, namespace, "hello")
    assert json.loads(out.read_text()) == {
        "GREETING": "hello",
        "POD": pod["metadata"]["name"],
        "NS": namespace,
        "CFG_LEVEL": "debug",
        "MSG": f"hello from {namespace}",
        "ESCAPED": "$(GREETING)",
    }
    assert pod["status"]["phase"] == "Succeeded"
    assert pod["spec"]["nodeName"] == kubelet.node_name
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (0, "Completed")
    # The Job controller counted the pod and released its tracking finalizer.
    assert "batch.kubernetes.io/job-tracking" not in pod["metadata"].get("finalizers", [])
    assert "done hello" in kubelet.logs(namespace, pod["metadata"]["name"])


def test_failing_job_is_failed_with_the_exit_code(
    cluster: Cluster, kubelet: FakeKubelet, namespace: str
) -> None:
    code = "import sys; print('boom'); sys.exit(3)"
    body = job(
        "fails",
        [sys.executable, "-c", code],
        container={"terminationMessagePolicy": "FallbackToLogsOnError"},
    )
    create_job(cluster, namespace, body)

    finished = wait_for_job(cluster, namespace, "fails", "Failed")

    failed = condition(finished, "Failed")
    assert failed is not None
    assert failed["reason"] == "BackoffLimitExceeded"
    [pod] = job_pods(cluster, namespace, "fails")
    assert pod["status"]["phase"] == "Failed"
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 3
    assert terminated["reason"] == "Error"
    assert "boom" in terminated["message"]


def test_pod_failure_policy_fails_only_the_index(
    cluster: Cluster, kubelet: FakeKubelet, namespace: str
) -> None:
    """Exit 3 is a permanent failure of one index (what training Jobs rely on)."""
    code = "import os, sys; sys.exit(3 if os.environ['JOB_COMPLETION_INDEX'] == '1' else 0)"
    body = job(
        "indexed",
        [sys.executable, "-c", code],
        completionMode="Indexed",
        completions=2,
        parallelism=2,
        backoffLimit=None,  # unset: backoffLimitPerIndex applies
        backoffLimitPerIndex=2,
        podFailurePolicy={
            "rules": [{"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [3]}}]
        },
    )
    create_job(cluster, namespace, body)

    finished = wait_for_job(cluster, namespace, "indexed", "Failed")

    assert finished["status"]["failedIndexes"] == "1"
    assert finished["status"]["completedIndexes"] == "0"
    assert finished["status"]["failed"] == 1  # not retried: FailIndex


def test_restart_policy_on_failure_restarts_the_container(
    cluster: Cluster, kubelet: FakeKubelet, namespace: str, tmp_path: Path
) -> None:
    marker = tmp_path / "tried"
    code = (
        "import pathlib, sys; p = pathlib.Path(sys.argv[1]);"
        "tried = p.exists(); p.touch(); sys.exit(0 if tried else 1)"
    )
    body = job("retry", [sys.executable, "-c", code, str(marker)], backoffLimit=2)
    body["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    create_job(cluster, namespace, body)

    wait_for_job(cluster, namespace, "retry", "Complete")

    [pod] = job_pods(cluster, namespace, "retry")
    status = pod["status"]["containerStatuses"][0]
    assert status["restartCount"] == 1
    assert status["lastState"]["terminated"]["exitCode"] == 1


def test_container_waits_for_a_missing_secret(
    cluster: Cluster, kubelet: FakeKubelet, namespace: str
) -> None:
    env = [{"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "late", "key": "k"}}}]
    code = "import os; print('key', os.environ['KEY'])"
    create_job(
        cluster, namespace, job("late", [sys.executable, "-c", code], container={"env": env})
    )

    def config_error(pods: Json) -> bool:
        statuses = [s for p in pods["items"] for s in p["status"].get("containerStatuses", [])]
        waiting = [s["state"].get("waiting", {}) for s in statuses]
        return any(w.get("reason") == "CreateContainerConfigError" for w in waiting)

    pods = wait_for_object(
        cluster,
        f"/api/v1/namespaces/{namespace}/pods",
        config_error,
        timeout=30,
        what="CreateContainerConfigError",
    )
    assert pods["items"][0]["status"]["phase"] == "Pending"
    message = pods["items"][0]["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
    assert message == 'secret "late" not found'

    secret = {"metadata": {"name": "late"}, "stringData": {"k": "v"}}
    create(cluster, f"/api/v1/namespaces/{namespace}/secrets", secret)

    wait_for_job(cluster, namespace, "late", "Complete")
    [pod] = job_pods(cluster, namespace, "late")
    assert "key v" in kubelet.logs(namespace, pod["metadata"]["name"])


def test_background_deletion_collects_pods_and_kills_their_processes(
    cluster: Cluster, kubelet: FakeKubelet, namespace: str, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    code = "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(300)"
    create_job(cluster, namespace, job("sleeper", [sys.executable, "-c", code, str(pid_file)]))
    wait_for_object(
        cluster,
        f"/apis/batch/v1/namespaces/{namespace}/jobs/sleeper",
        lambda j: (j.get("status") or {}).get("ready") == 1,
        timeout=60,
        what="the sleeper pod to be ready",
    )
    [pod] = job_pods(cluster, namespace, "sleeper")
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "Job"
    deadline = time.monotonic() + 10
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    pid = int(pid_file.read_text())

    # Through the typed client, as the operator would.
    batch = kubernetes.client.BatchV1Api(cluster.api_client())
    batch.delete_namespaced_job("sleeper", namespace, propagation_policy="Background")

    deadline = time.monotonic() + 60
    while job_pods(cluster, namespace, "sleeper") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert job_pods(cluster, namespace, "sleeper") == [], kubelet.log_tail()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_deployment_becomes_available_and_scales_down(
    cluster: Cluster, kubelet: FakeKubelet, namespace: str
) -> None:
    labels = {"app": "web"}
    deployment = {
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": IMAGE,
                            "command": [sys.executable, "-c", "import time; time.sleep(300)"],
                        }
                    ]
                },
            },
        },
    }
    create(cluster, f"/apis/apps/v1/namespaces/{namespace}/deployments", deployment)
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments/web"
    wait_for_object(
        cluster, path, has_condition("Available"), timeout=60, what="deployment available"
    )
    wait_for_object(
        cluster,
        path,
        lambda d: d["status"].get("readyReplicas") == 2,
        timeout=60,
        what="2 ready replicas",
    )

    apps = kubernetes.client.AppsV1Api(cluster.api_client())
    apps.patch_namespaced_deployment_scale("web", namespace, {"spec": {"replicas": 0}})

    wait_for_object(
        cluster,
        f"/api/v1/namespaces/{namespace}/pods?labelSelector=app%3Dweb",
        lambda pods: pods["items"] == [],
        timeout=60,
        what="the web pods to be gone",
    )


def test_sigmawatch_command_runs_this_checkout(
    cluster: Cluster, kubelet: FakeKubelet, namespace: str
) -> None:
    body = job("cli", ["sigmawatch", "--help"])
    create_job(cluster, namespace, body)

    wait_for_job(cluster, namespace, "cli", "Complete")

    [pod] = job_pods(cluster, namespace, "cli")
    assert "usage: sigmawatch" in kubelet.logs(namespace, pod["metadata"]["name"])


def deployment_manifest(**spec: Any) -> str:
    labels = {"app": "probe"}
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "probe"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "probe", "image": IMAGE}]},
            },
            **spec,
        },
    }
    return json.dumps(manifest)


def test_server_side_dry_run_and_validation(cluster: Cluster, namespace: str) -> None:
    applied = cluster.kubectl(
        "apply", "--dry-run=server", "-n", namespace, "-f", "-", input=deployment_manifest()
    )
    assert "deployment.apps/probe created (server dry run)" in applied.stdout
    missing = cluster.kubectl("get", "deployment", "probe", "-n", namespace, check=False)
    assert missing.returncode != 0
    assert "NotFound" in missing.stderr  # a dry run stores nothing

    invalid = cluster.kubectl(
        "apply", "--dry-run=server", "-n", namespace, "-f", "-",
        input=deployment_manifest(replicas=-1), check=False,
    )  # fmt: skip
    assert invalid.returncode != 0
    assert "spec.replicas: Invalid value: -1: must be greater than or equal to 0" in invalid.stderr

    unknown = cluster.kubectl(
        "apply", "--dry-run=server", "-n", namespace, "-f", "-",
        input=deployment_manifest(replicaz=1), check=False,
    )  # fmt: skip
    assert unknown.returncode != 0
    assert 'unknown field "spec.replicaz"' in unknown.stderr


WIDGET_CRD: Json = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.smoke.sigmawatch.io"},
    "spec": {
        "group": "smoke.sigmawatch.io",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["threshold"],
                                "properties": {"threshold": {"type": "number", "minimum": 0}},
                            }
                        },
                    }
                },
            }
        ],
    },
}


def test_crd_is_established_and_its_schema_enforced(cluster: Cluster, namespace: str) -> None:
    api = cluster.api_client()
    extensions = kubernetes.client.ApiextensionsV1Api(api)
    create(cluster, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", WIDGET_CRD)
    try:
        wait_for_object(
            cluster,
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.smoke.sigmawatch.io",
            has_condition("Established"),
            timeout=30,
            what="the Widget CRD to be established",
        )
        objects = kubernetes.client.CustomObjectsApi(api)

        def widget(name: str, threshold: object) -> Json:
            return {
                "apiVersion": "smoke.sigmawatch.io/v1",
                "kind": "Widget",
                "metadata": {"name": name},
                "spec": {"threshold": threshold},
            }

        args = ("smoke.sigmawatch.io", "v1", namespace, "widgets")
        created = objects.create_namespaced_custom_object(*args, widget("good", 0.5))
        assert isinstance(created, dict)
        assert created["spec"] == {"threshold": 0.5}
        for bad, message in ((-1, "should be greater than or equal to 0"), ("high", "number")):
            with pytest.raises(kubernetes.client.ApiException) as rejected:
                objects.create_namespaced_custom_object(*args, widget("bad", bad))
            assert rejected.value.status == 422
            body = str(rejected.value.body)
            assert "spec.threshold" in body
            assert message in body
    finally:
        extensions.delete_custom_resource_definition(WIDGET_CRD["metadata"]["name"])


def test_service_account_kubeconfig_is_bound_by_rbac(cluster: Cluster, namespace: str) -> None:
    create(
        cluster, f"/api/v1/namespaces/{namespace}/serviceaccounts", {"metadata": {"name": "reader"}}
    )
    rules = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]
    role = {"metadata": {"name": "pod-reader"}, "rules": rules}
    create(cluster, f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/roles", role)
    binding = {
        "metadata": {"name": "reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": namespace}],
    }
    create(
        cluster, f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/rolebindings", binding
    )
    reader = cluster.service_account_kubeconfig(namespace, "reader")

    allowed = cluster.kubectl("get", "pods", "-n", namespace, kubeconfig=reader)
    denied = cluster.kubectl("get", "secrets", "-n", namespace, kubeconfig=reader, check=False)

    assert allowed.returncode == 0
    assert denied.returncode != 0
    user = f"system:serviceaccount:{namespace}:reader"
    assert f'User "{user}" cannot list resource "secrets"' in denied.stderr
