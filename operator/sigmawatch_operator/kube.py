"""The few Kubernetes API calls the operator makes, over the official client."""

from __future__ import annotations

from typing import Any, cast

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from sigmawatch.training_job import GROUP, VERSION
from sigmawatch_operator.job_client import JobRejectedError
from sigmawatch_operator.jobs import MODEL_LABEL


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

    def create_job(self, manifest: dict[str, Any]) -> bool:
        """True when created; False when a Job of that name exists (adopted)."""
        try:
            # The client accepts plain dicts as bodies; its stubs only name V1Job.
            self.batch.create_namespaced_job(manifest["metadata"]["namespace"], cast(Any, manifest))
        except ApiException as exc:
            if exc.status == 409:  # another replica or an earlier attempt created it
                return False
            if exc.status is not None and 400 <= exc.status < 500 and exc.status != 429:
                raise JobRejectedError(f"{exc.status} {exc.reason}: {exc.body}"[:500]) from exc
            raise
        return True

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
