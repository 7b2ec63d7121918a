"""Which version answers a series in a rollout, in every pod alike (REL-1, REL-2).

A pod holds the routing of every active rollout's members, loaded from the
registry and kept current by its notifications and the bounded refresh. A
pod that has not seen a change yet routes as before; nothing here fails a
request.

- shadow: stable answers; the candidate is scored beside it.
- canary: a deterministic hash of the routing key sends `weight`% to the
  candidate. The key is the client's `X-Sigmawatch-Route-Key` when given (a
  sticky client), else the series and the timestamp (a batch item: its
  first timestamp, so an item is answered by one version).
- fleet canary: the hash of the series id alone, so a series is wholly on
  one version and `weight` is the share of series on the candidate.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable

from sigmawatch.registry import Registry
from sigmawatch.registry.rollout_records import Route
from sigmawatch.rollouts.spec import Strategy


def bucket(key: str) -> int:
    """0..99, uniform and the same in every process."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 100


def on_candidate(route: Route, series_id: str, timestamp: int, route_key: str | None) -> bool:
    if route.strategy is Strategy.SHADOW or route.weight <= 0:
        return False
    if route.weight >= 100:
        return True
    if route.fleet:
        return bucket(series_id) < route.weight
    return bucket(route_key if route_key is not None else f"{series_id}:{timestamp}") < route.weight


class RoutingTable:
    def __init__(self) -> None:
        self._routes: dict[str, Route] = {}
        self._revisions: dict[int, int] = {}
        self._lock = threading.Lock()

    def route(self, series_id: str) -> Route | None:
        return self._routes.get(series_id)

    @property
    def rollouts(self) -> int:
        return len(self._revisions)

    @property
    def series(self) -> int:
        return len(self._routes)

    def _replace(self, rollout_ids: Iterable[int], routes: list[Route]) -> None:
        with self._lock:
            gone = set(rollout_ids)
            for series_id in [s for s, r in self._routes.items() if r.rollout_id in gone]:
                del self._routes[series_id]
            for rollout_id in gone:
                self._revisions.pop(rollout_id, None)
            for route in routes:
                self._routes[route.series_id] = route
                self._revisions[route.rollout_id] = route.revision

    def reload(self, registry: Registry, rollout_id: int) -> None:
        """After a notification: that rollout's routing as the registry has it now."""
        self._replace([rollout_id], registry.routes([rollout_id]))

    def sync(self, registry: Registry) -> int:
        """Reload the rollouts whose revision changed (or that ended); returns how many."""
        current = registry.route_revisions()
        stale = {i for i, rev in self._revisions.items() if current.get(i) != rev}
        stale |= {i for i, rev in current.items() if self._revisions.get(i) != rev}
        if stale:
            live = [i for i in stale if i in current]
            self._replace(stale, registry.routes(live) if live else [])
        return len(stale)
