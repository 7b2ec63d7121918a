"""Route: the VirtualService route of an Istio rollout gets the weights the rollout says.

Runs after every tick's act, so each analysis, promotion, rollback, abort or
pause is followed by the weights it implies, and it is level-based: a route
someone edited is set back on the next tick. An active rollout holds its
route. An ended one keeps its final weights (candidate 100 when promoted,
stable 100 otherwise) while the route's holder annotation names it; a newer
rollout takes the route by writing its own name. Deleting the ModelRollout
releases the route at stable 100.

A VirtualService that changed between read and patch is read again; a
refusal (RBAC, validation) is a problem for status; an outage propagates and
the tick is retried.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sigmawatch.registry.rollout_records import IstioRoute, RolloutRecord
from sigmawatch_operator.istio_route import (
    RESTING,
    RouteProblemError,
    RouteView,
    Weights,
    locate,
    patch_ops,
)
from sigmawatch_operator.rollout_spec import Problem
from sigmawatch_operator.vs_client import (
    VirtualServiceClient,
    VirtualServiceConflictError,
    VirtualServiceRejectedError,
)

log = logging.getLogger(__name__)

ATTEMPTS = 3
VS_REJECTED = "VirtualServiceRejected"
VS_CONFLICT = "VirtualServiceConflict"

type Seen = RouteView | Problem  # the route as read, or why it cannot be moved


@dataclass(frozen=True, slots=True)
class Routed:
    """The route after a tick."""

    weights: Weights | None = None  # on the VirtualService now (None: unknown)
    holder: str | None = None
    repaired: Weights | None = None  # weights someone else set, set back this tick
    problem: Problem | None = None


@dataclass
class Router:
    client: VirtualServiceClient

    def read(self, route: IstioRoute) -> Seen:
        try:
            found = self.client.get_virtual_service(route.namespace, route.virtual_service)
            return locate(found, route)
        except RouteProblemError as exc:
            return exc.problem
        except VirtualServiceRejectedError as exc:
            return VS_REJECTED, f"reading VirtualService {route.virtual_service}: {exc}"

    def sync(
        self, record: RolloutRecord | None, seen: Seen | None, applied: Weights | None
    ) -> Routed:
        """Set the weights `record` says. `seen`: the route read before the tick acted;
        `applied`: the weights the last tick left (from status), to tell drift."""
        if record is None or record.istio is None:
            return Routed()
        wanted = Weights.of(record)
        for _ in range(ATTEMPTS):
            view = seen if seen is not None else self.read(record.istio)
            seen = None
            if isinstance(view, tuple):
                return Routed(problem=view)
            if not record.active and view.holder != record.name:
                return Routed(view.weights, view.holder)  # released, or a newer rollout has it
            if view.weights == wanted and view.holder == record.name:
                return Routed(wanted, record.name)
            outcome = self._patch(record.istio, view, wanted, record.name)
            if outcome is None:
                continue
            if outcome.problem is not None:
                return outcome
            drifted = applied is not None and view.weights != applied
            if drifted:
                log.warning(
                    "VirtualService route edited by someone else: set back",
                    extra={"rollout": record.name, "found": view.weights.describe()},
                )
            return Routed(wanted, record.name, repaired=view.weights if drifted else None)
        return Routed(problem=_conflict(record.istio))

    def release(self, record: RolloutRecord, was_active: bool) -> Routed:
        """A deleted ModelRollout's route back to stable 100 (and no holder), when this
        rollout holds it or was running until now."""
        if record.istio is None:
            return Routed()
        for _ in range(ATTEMPTS):
            view = self.read(record.istio)
            if isinstance(view, tuple):
                return Routed(problem=view)
            if view.holder != record.name and not was_active:
                return Routed(view.weights, view.holder)
            if view.weights == RESTING and view.holder is None:
                return Routed(RESTING)
            outcome = self._patch(record.istio, view, RESTING, None)
            if outcome is not None:
                return outcome
        return Routed(problem=_conflict(record.istio))

    def _patch(
        self, route: IstioRoute, view: RouteView, weights: Weights, holder: str | None
    ) -> Routed | None:
        """None when the VirtualService changed meanwhile (read it again)."""
        ops = patch_ops(view, route, weights, holder)
        try:
            self.client.patch_virtual_service(route.namespace, route.virtual_service, ops)
        except VirtualServiceConflictError:
            return None
        except VirtualServiceRejectedError as exc:
            message = f"setting the weights of VirtualService {route.virtual_service}: {exc}"
            return Routed(view.weights, view.holder, problem=(VS_REJECTED, message))
        log.info(
            "VirtualService weights set",
            extra={"virtual_service": route.virtual_service, "weights": weights.describe()},
        )
        return Routed(weights, holder)


def _conflict(route: IstioRoute) -> Problem:
    return (
        VS_CONFLICT,
        f"VirtualService {route.virtual_service} changed during each of {ATTEMPTS} attempts "
        "to set its weights; trying again on the next tick",
    )
