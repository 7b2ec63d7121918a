"""The VirtualService route an Istio rollout moves: found, compared and patched. Pure.

The route is the entry of `spec.http` with the rollout's route name; it must
have exactly one destination per subset the rollout names (stable and
candidate) and no other. The weights a rollout wants are its policy weight
for the candidate and the rest for stable, so a promoted rollout leaves
candidate 100 and every other end stable 100.

The patch is a JSON patch (RFC 6902), because a merge patch cannot address
one item of a list: `test` operations on the resourceVersion that was read
and on the route's name come first, so a VirtualService edited in between
fails the patch instead of being overwritten, and is read again. Only the
two weights and the holder annotation change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sigmawatch.registry.rollout_records import IstioRoute, RolloutRecord
from sigmawatch_operator.rollout_spec import Problem

# The rollout whose weights the route has: an ended rollout keeps them only while
# the VirtualService names it here (a newer rollout takes the route by writing its own).
HOLDER = "sigmawatch.dev/rollout"
VS_NOT_FOUND = "VirtualServiceNotFound"
ROUTE_UNUSABLE = "RouteNotUsable"


class RouteProblemError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.problem: Problem = (code, message)


@dataclass(frozen=True, slots=True)
class Weights:
    stable: int
    candidate: int

    @classmethod
    def of(cls, record: RolloutRecord) -> Weights:
        return cls(100 - record.state.weight, record.state.weight)

    @classmethod
    def from_dict(cls, raw: Any) -> Weights | None:
        if not isinstance(raw, dict):
            return None
        stable, candidate = raw.get("stable"), raw.get("candidate")
        if not isinstance(stable, int) or not isinstance(candidate, int):
            return None
        return cls(stable, candidate)

    def to_dict(self) -> dict[str, int]:
        return {"stable": self.stable, "candidate": self.candidate}

    def describe(self) -> str:
        return f"stable {self.stable}% / candidate {self.candidate}%"


RESTING = Weights(100, 0)  # as the manifests ship the route: everything on stable


@dataclass(frozen=True, slots=True)
class RouteView:
    """The rollout's route in one VirtualService, as read."""

    resource_version: str
    index: int  # of the route in spec.http
    stable: int  # of the stable destination in the route
    candidate: int
    weights: Weights
    holder: str | None
    annotated: bool  # metadata.annotations exists


def _where(route: IstioRoute) -> str:
    return f"route {route.route!r} of VirtualService {route.virtual_service}"


def locate(found: dict[str, Any] | None, route: IstioRoute) -> RouteView:
    """The route in a VirtualService as read (None: it does not exist); RouteProblemError
    when the rollout cannot move it."""
    if found is None:
        raise RouteProblemError(
            VS_NOT_FOUND,
            f"VirtualService {route.virtual_service} does not exist in {route.namespace} "
            "(or the Istio CRDs are not installed)",
        )
    http = (found.get("spec") or {}).get("http") or []
    indexes = [
        i for i, r in enumerate(http) if isinstance(r, dict) and r.get("name") == route.route
    ]
    if len(indexes) != 1:
        how = "has no" if not indexes else "has more than one"
        raise RouteProblemError(
            ROUTE_UNUSABLE,
            f"VirtualService {route.virtual_service} {how} http route {route.route!r}",
        )
    index = indexes[0]
    destinations = http[index].get("route") or []
    subsets = [str((d.get("destination") or {}).get("subset")) for d in destinations]
    wanted = [route.stable_subset, route.candidate_subset]
    if sorted(subsets) != sorted(wanted):
        raise RouteProblemError(
            ROUTE_UNUSABLE,
            f"{_where(route)} must send to exactly the subsets {wanted[0]!r} and {wanted[1]!r}, "
            f"one destination each; it has {subsets}",
        )
    stable, candidate = subsets.index(route.stable_subset), subsets.index(route.candidate_subset)
    meta = found.get("metadata") or {}
    annotations = meta.get("annotations")
    return RouteView(
        resource_version=str(meta.get("resourceVersion", "")),
        index=index,
        stable=stable,
        candidate=candidate,
        weights=Weights(
            int(destinations[stable].get("weight") or 0),
            int(destinations[candidate].get("weight") or 0),
        ),
        holder=(annotations or {}).get(HOLDER),
        annotated=annotations is not None,
    )


def patch_ops(
    view: RouteView, route: IstioRoute, weights: Weights, holder: str | None
) -> list[dict[str, Any]]:
    """The JSON patch that sets the route's weights and its holder (None: removes it)."""
    base = f"/spec/http/{view.index}"
    ops: list[dict[str, Any]] = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": view.resource_version},
        {"op": "test", "path": f"{base}/name", "value": route.route},
        # add sets a member whether or not it exists (a weight may be left out).
        {"op": "add", "path": f"{base}/route/{view.stable}/weight", "value": weights.stable},
        {"op": "add", "path": f"{base}/route/{view.candidate}/weight", "value": weights.candidate},
    ]
    key = "/metadata/annotations/" + HOLDER.replace("~", "~0").replace("/", "~1")
    if holder is None:
        if view.holder is not None:
            ops.append({"op": "remove", "path": key})
    elif view.holder != holder:
        if view.annotated:
            ops.append({"op": "add", "path": key, "value": holder})
        else:
            ops.append({"op": "add", "path": "/metadata/annotations", "value": {HOLDER: holder}})
    return ops
