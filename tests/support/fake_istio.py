"""VirtualServices as the API server keeps them, for the in-process rollout controller.

Every write bumps `metadata.resourceVersion`; a JSON patch (RFC 6902) is
applied whole or not at all, and a failed `test` operation is a conflict,
as the API server answers it. `edit` is someone else changing the object.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from sigmawatch_operator.vs_client import VirtualServiceConflictError, VirtualServiceRejectedError


def virtual_service(name: str = "sigmawatch-inference", route: str = "inference") -> dict[str, Any]:
    """Like manifests/istio/virtualservice.yaml: a probe route, then the weighted one."""
    destination = {"host": "sigmawatch-inference", "port": {"number": 80}}
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": name},
        "spec": {
            "hosts": ["sigmawatch-inference"],
            "http": [
                {"name": "internal-only", "directResponse": {"status": 404}},
                {
                    "name": route,
                    "route": [
                        {"destination": {**destination, "subset": "stable"}, "weight": 100},
                        {"destination": {**destination, "subset": "candidate"}, "weight": 0},
                    ],
                },
            ],
        },
    }


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _parent(doc: Any, path: str) -> tuple[Any, str]:
    tokens = [_unescape(t) for t in path.split("/")[1:]]
    for token in tokens[:-1]:
        doc = doc[int(token)] if isinstance(doc, list) else doc[token]
    return doc, tokens[-1]


def apply_json_patch(doc: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    """The few operations the operator sends (test, add, remove), on object members."""
    out = copy.deepcopy(doc)
    for op in ops:
        parent, key = _parent(out, op["path"])
        member: Any = int(key) if isinstance(parent, list) else key
        if op["op"] == "test":
            if parent[member] != op["value"]:
                raise VirtualServiceConflictError(f"testing value {op['path']} failed")
        elif op["op"] == "add":
            parent[member] = copy.deepcopy(op["value"])
        elif op["op"] == "remove":
            del parent[member]
        else:
            raise AssertionError(f"unexpected operation {op}")
    return out


@dataclass
class FakeVirtualServices:
    objects: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    patches: int = 0
    refuse: bool = False  # every patch is refused (an RBAC rule missing)
    _versions: int = 0

    def create(self, namespace: str, body: dict[str, Any]) -> None:
        self._store(namespace, copy.deepcopy(body))

    def _store(self, namespace: str, body: dict[str, Any]) -> None:
        self._versions += 1
        body["metadata"] = {**body["metadata"], "namespace": namespace}
        body["metadata"]["resourceVersion"] = str(self._versions)
        self.objects[(namespace, body["metadata"]["name"])] = body

    def get_virtual_service(self, namespace: str, name: str) -> dict[str, Any] | None:
        found = self.objects.get((namespace, name))
        return copy.deepcopy(found) if found is not None else None

    def patch_virtual_service(self, namespace: str, name: str, patch: list[dict[str, Any]]) -> None:
        if self.refuse:
            raise VirtualServiceRejectedError("403 Forbidden")
        self.patches += 1
        self._store(namespace, apply_json_patch(self.objects[(namespace, name)], patch))

    def edit(self, namespace: str, name: str, weights: dict[str, int]) -> None:
        """Someone sets the weights of the weighted route by hand (kubectl edit)."""
        body = copy.deepcopy(self.objects[(namespace, name)])
        for destination in body["spec"]["http"][1]["route"]:
            destination["weight"] = weights[destination["destination"]["subset"]]
        self._store(namespace, body)

    def weights(self, namespace: str, name: str = "sigmawatch-inference") -> dict[str, int]:
        route = self.objects[(namespace, name)]["spec"]["http"][1]["route"]
        return {d["destination"]["subset"]: d["weight"] for d in route}

    def holder(self, namespace: str, name: str = "sigmawatch-inference") -> str | None:
        annotations = self.objects[(namespace, name)]["metadata"].get("annotations") or {}
        found: str | None = annotations.get("sigmawatch.dev/rollout")
        return found
