"""The few Kubernetes API calls the operator makes, over the official client."""

from __future__ import annotations

from typing import Any, cast

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from sigmawatch_operator.jobs import GROUP, MODEL_LABEL, VERSION


def load_config() -> None:
    """In a pod: its service account; elsewhere: KUBECONFIG / ~/.kube/config."""
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()


class KubeApi:
    def __init__(self) -> None:
        self.api = client.ApiClient()
        self.batch = client.BatchV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)

    def list_jobs(self, namespace: str, model: str) -> list[dict[str, Any]]:
        jobs = self.batch.list_namespaced_job(namespace, label_selector=f"{MODEL_LABEL}={model}")
        serialized: list[dict[str, Any]] = self.api.sanitize_for_serialization(jobs.items)
        return serialized

    def create_job(self, manifest: dict[str, Any]) -> None:
        try:
            # The client accepts plain dicts as bodies; its stubs only name V1Job.
            self.batch.create_namespaced_job(manifest["metadata"]["namespace"], cast(Any, manifest))
        except ApiException as exc:
            if exc.status != 409:  # already created by an earlier attempt: adopt it
                raise

    def get_model(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            found = cast(
                dict[str, Any],
                self.custom.get_namespaced_custom_object(
                    GROUP, VERSION, namespace, "anomalymodels", name
                ),
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return found
