"""Predictions counted locally between calls to the limiter (SEC-2).

A call to `limits` costs 5-10 µs in memory and a round trip in Redis; two per
single predict would take a quarter of its time, and a batch of 10,000
series 10,000 round trips. So points are added up per key here and handed
to the limiter in one `hit(cost=n)`:

- at once, when a key's pending points reach 5% of its limit (small limits:
  every point), so no process lets more than that through unseen;
- for every key, when `FLUSH_S` has passed since the last hand-over.

A key the limiter refuses is refused here without asking again until its
window resets. The price: each process may let a key's limit be exceeded by
its pending points (5% of it) within one hand-over.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from limits import RateLimitItem

FLUSH_S = 0.1
SHARE = 20  # a key hands its points over once it holds 1/SHARE of its limit

# item, key, points → None when counted, else when the key's window resets
type Count = Callable[[RateLimitItem, str, int], Awaitable[float | None]]


@dataclass(slots=True)
class _Pending:
    item: RateLimitItem
    scope: str
    points: int = 0


@dataclass(frozen=True, slots=True)
class Refusal:
    item: RateLimitItem
    scope: str
    reset_at: float  # Unix seconds


class Tally:
    def __init__(self, count: Count) -> None:
        self._count = count
        self._pending: dict[str, _Pending] = {}
        self._refused: dict[str, Refusal] = {}
        self._handed_over_at = time.monotonic()

    async def add(self, item: RateLimitItem, scope: str, key: str, points: int) -> Refusal | None:
        """Count `points` for `key`; the refusal when its limit is reached."""
        refused = self._refused.get(key)
        if refused is not None:
            if refused.reset_at > time.time():
                return refused
            del self._refused[key]
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = _Pending(item, scope)
        pending.points += points
        if pending.points * SHARE >= item.amount:
            return await self._hand_over(key, pending)
        return None

    async def hand_over_due(
        self, run: Callable[[list[Awaitable[object]]], Awaitable[object]]
    ) -> None:
        """Every key's pending points, when FLUSH_S has passed; `run` awaits the calls
        (one after another in memory, in concurrent waves against Redis)."""
        now = time.monotonic()
        if now - self._handed_over_at < FLUSH_S or not self._pending:
            return
        self._handed_over_at = now
        await run([self._hand_over(key, p) for key, p in list(self._pending.items())])

    async def _hand_over(self, key: str, pending: _Pending) -> Refusal | None:
        points, pending.points = pending.points, 0
        if self._pending.get(key) is pending:
            del self._pending[key]
        reset_at = await self._count(pending.item, key, points)
        if reset_at is None:
            return None
        refusal = self._refused[key] = Refusal(pending.item, pending.scope, reset_at)
        return refusal
