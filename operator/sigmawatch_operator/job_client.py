"""What the reconcile needs from Kubernetes for Jobs, as a protocol (the tests' fake has it too)."""

from __future__ import annotations

from typing import Any, Protocol


class JobRejectedError(Exception):
    """The API server refused the Job as built (4xx): retrying the same Job is pointless."""


class JobClient(Protocol):
    def list_jobs(self, namespace: str, model: str) -> list[dict[str, Any]]: ...

    def create_job(self, manifest: dict[str, Any]) -> bool:
        """True when created; False when a Job of that name exists (it is adopted).
        JobRejectedError when the API server refuses the Job."""
        ...
