"""What Istio rollouts need from Kubernetes: VirtualServices (networking.istio.io/v1),
read and JSON-patched, as a protocol (the tests' fake has it too)."""

from __future__ import annotations

from typing import Any, Protocol


class VirtualServiceConflictError(Exception):
    """A `test` of the patch failed: the VirtualService changed since it was read."""


class VirtualServiceRejectedError(Exception):
    """The API server refused the call (4xx: RBAC, validation): retrying will not help."""


class VirtualServiceClient(Protocol):
    def get_virtual_service(self, namespace: str, name: str) -> dict[str, Any] | None:
        """None when it does not exist (or Istio's CRDs are not installed)."""
        ...

    def patch_virtual_service(self, namespace: str, name: str, patch: list[dict[str, Any]]) -> None:
        """Apply a JSON patch (RFC 6902). VirtualServiceConflictError when one of its
        `test` operations fails; VirtualServiceRejectedError when refused."""
        ...
