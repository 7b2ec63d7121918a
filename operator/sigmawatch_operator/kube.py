"""The few Kubernetes API calls the operator makes, over the official client.

Each is a client span (`k8s.<call>`) inside a traced reconcile (OBS-5).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, cast

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from opentelemetry.trace import SpanKind

from sigmawatch import tracing
from sigmawatch.training_job import GROUP, VERSION
from sigmawatch_operator.job_client import JobRejectedError
from sigmawatch_operator.jobs import MODEL_LABEL
from sigmawatch_operator.vs_client import VirtualServiceConflictError, VirtualServiceRejectedError

ISTIO = ("networking.istio.io", "v1")
VIRTUAL_SERVICES = "virtualservices"
JSON_PATCH = "application/json-patch+json"


def _refused(exc: ApiException) -> bool:
    """A 4xx that retrying does not fix (429 is a slowdown, not a refusal)."""
    return exc.status is not None and 400 <= exc.status < 500 and exc.status != 429


def _not_applicable(exc: ApiException) -> bool:
    """A JSON patch that could not be applied: the API server answers 422 without the
    causes a validation error lists. The patch tests the resourceVersion it was made
    from first, so the object changed since it was read."""
    if exc.status != 422:
        return False
    try:
        status = json.loads(exc.body or "{}")
    except ValueError:
        return False
    return isinstance(status, dict) and not (status.get("details") or {}).get("causes")


def _spanned[**P, R](call: Callable[P, R]) -> Callable[P, R]:
    """The call as a `k8s.<name>` client span, with the namespace it acts in."""
    name = f"k8s.{call.__name__}"

    @functools.wraps(call)
    def spanned(*args: P.args, **kwargs: P.kwargs) -> R:
        namespace = args[1] if len(args) > 1 and isinstance(args[1], str) else None
        attributes = {"k8s.namespace.name": namespace} if namespace else None
        with tracing.child(name, attributes, kind=SpanKind.CLIENT):
            return call(*args, **kwargs)

    return spanned


def load_config() -> None:
    """In a pod: its service account; elsewhere: KUBECONFIG / ~/.kube/config."""
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()


class KubeApi:
    def __init__(self, api: client.ApiClient | None = None) -> None:
        self.api = api or client.ApiClient()
        self.batch = client.BatchV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)

    @_spanned
    def list_jobs(self, namespace: str, model: str) -> list[dict[str, Any]]:
        jobs = self.batch.list_namespaced_job(namespace, label_selector=f"{MODEL_LABEL}={model}")
        serialized: list[dict[str, Any]] = self.api.sanitize_for_serialization(jobs.items)
        return serialized

    @_spanned
    def create_job(self, manifest: dict[str, Any]) -> bool:
        """True when created; False when a Job of that name exists (adopted)."""
        try:
            # The client accepts plain dicts as bodies; its stubs only name V1Job.
            self.batch.create_namespaced_job(manifest["metadata"]["namespace"], cast(Any, manifest))
        except ApiException as exc:
            if exc.status == 409:  # another replica or an earlier attempt created it
                return False
            if _refused(exc):
                raise JobRejectedError(f"{exc.status} {exc.reason}: {exc.body}"[:500]) from exc
            raise
        return True

    @_spanned
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

    @_spanned
    def annotate_model(self, namespace: str, name: str, annotations: dict[str, str]) -> None:
        """Set annotations on an AnomalyModel (a merge patch); a deleted model is fine."""
        patch = {"metadata": {"annotations": annotations}}
        try:
            self.custom.patch_namespaced_custom_object(
                GROUP, VERSION, namespace, "anomalymodels", name, patch
            )
        except ApiException as exc:
            if exc.status != 404:
                raise

    @_spanned
    def get_virtual_service(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            found = cast(
                dict[str, Any],
                self.custom.get_namespaced_custom_object(*ISTIO, namespace, VIRTUAL_SERVICES, name),
            )
        except ApiException as exc:
            if exc.status == 404:  # no such object, or no Istio CRDs at all
                return None
            if _refused(exc):
                raise VirtualServiceRejectedError(f"{exc.status} {exc.reason}") from exc
            raise
        return found

    @_spanned
    def patch_virtual_service(self, namespace: str, name: str, patch: list[dict[str, Any]]) -> None:
        try:
            self.custom.patch_namespaced_custom_object(
                *ISTIO,
                namespace,
                VIRTUAL_SERVICES,
                name,
                cast(Any, patch),
                _content_type=JSON_PATCH,
            )
        except ApiException as exc:
            if exc.status == 409 or _not_applicable(exc):
                raise VirtualServiceConflictError(str(exc.body)[:300]) from exc
            if _refused(exc):
                raise VirtualServiceRejectedError(
                    f"{exc.status} {exc.reason}: {exc.body}"[:500]
                ) from exc
            raise
