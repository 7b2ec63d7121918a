"""Rate limits (SEC-2): per series and per client, for predictions and trainings.

The `limits` library counts in sliding windows (a weighted pair of fixed
windows: no burst at a window's edge), in Redis when `SIGMAWATCH_REDIS_URL`
is set, so every pod enforces one shared limit, otherwise in this process's
memory, so each pod enforces its own. A client is its key or token
(`key/<name>`, `token/<sub>`), or its address when anonymous.

What counts: every predicted point (a batch counts its points, per client
and per series; tally.py adds them up between calls to the limiter); every
training that did not answer an existing version (the same data again is
not a new training), checked before the work and counted after it. A
request over a client limit answers 429 RATE_LIMITED; a batch item over its
series' limit fails alone, as any bad item does. When
Redis does not answer, requests are let through and the failure is logged
and counted: limits protect capacity, they are not worth an outage.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, WindowStats, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import MemoryStorage as SyncMemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter as SyncSlidingWindow
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from sigmawatch.audit import Actor
from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch_inference.security.identify import ANONYMOUS
from sigmawatch_inference.security.settings import AccessSettings
from sigmawatch_inference.security.tally import Refusal, Tally

log = logging.getLogger(__name__)

PREDICTIONS, TRAININGS = "predictions", "trainings"
WARN_EVERY_S = 30.0
REDIS_TIMEOUT_S = 0.25
REDIS_CONCURRENCY = 64  # series of one batch checked in Redis at once
# A silent Redis must not stall requests: a bounded wait, no retries.
REDIS_OPTIONS: dict[str, Any] = {
    "socket_timeout": REDIS_TIMEOUT_S,
    "socket_connect_timeout": REDIS_TIMEOUT_S,
    "retry": Retry(NoBackoff(), 0),
}


@dataclass(frozen=True, slots=True)
class LimitSet:
    series_predictions: RateLimitItem
    client_predictions: RateLimitItem
    series_trainings: RateLimitItem
    client_trainings: RateLimitItem

    @classmethod
    def parse(
        cls,
        series_predictions: str,
        client_predictions: str,
        series_trainings: str,
        client_trainings: str,
    ) -> LimitSet:
        return cls(
            parse(series_predictions),
            parse(client_predictions),
            parse(series_trainings),
            parse(client_trainings),
        )


def _error(refusal: Refusal) -> SigmawatchError:
    return rate_limited(refusal.scope, refusal.item, refusal.reset_at)


def rate_limited(scope: str, item: RateLimitItem, reset_at: float) -> SigmawatchError:
    retry_after = max(1, math.ceil(reset_at - time.time()))
    return SigmawatchError(
        ErrorCode.RATE_LIMITED,
        f"rate limit reached: {item.amount} {scope} per {_window(item)}; retry in {retry_after} s",
        limit=item.amount,
        window_s=item.get_expiry(),
        scope=scope,
        retry_after_s=retry_after,
    )


def _window(item: RateLimitItem) -> str:
    seconds = item.get_expiry()
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return unit if count == 1 else f"{count} {unit}s"
    return f"{seconds} s"


class _InProcess:
    """limits' synchronous in-memory strategy behind the async limiter's methods: no
    asyncio locks or expiry tasks, a third of their cost per hit (~4 µs)."""

    def __init__(self) -> None:
        self._limiter = SyncSlidingWindow(SyncMemoryStorage())

    async def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        return self._limiter.hit(item, *identifiers, cost=cost)

    async def test(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        return self._limiter.test(item, *identifiers, cost=cost)

    async def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        return self._limiter.get_window_stats(item, *identifiers)


class RateLimits:
    def __init__(self, limits: LimitSet, redis_url: str | None = None) -> None:
        self.limits = limits
        self.shared = redis_url is not None
        self._limiter: SlidingWindowCounterRateLimiter | _InProcess = (
            SlidingWindowCounterRateLimiter(
                RedisStorage(_async_uri(redis_url), implementation="redispy", **REDIS_OPTIONS)
            )
            if redis_url
            else _InProcess()
        )
        self._tally = Tally(self._count_points)
        self._warned_at = 0.0
        self.unavailable = 0  # checks let through because the storage did not answer

    async def predictions(
        self, client: str, per_series: Mapping[str, int]
    ) -> dict[str, SigmawatchError]:
        """Count a request's points (`per_series`: series → points). Raises RATE_LIMITED
        over the client's limit; returns the series over theirs, with their error."""
        await self._client_points(client, sum(per_series.values()))
        series = list(per_series.items())
        refusals = await self._run([self._series_points(s, points) for s, points in series])
        return {s: _error(r) for (s, _), r in zip(series, refusals, strict=True) if r is not None}

    async def prediction(self, client: str, series_id: str, points: int) -> None:
        """One request's points of one series (the single predict's hot path):
        RATE_LIMITED over the client's limit or the series'."""
        await self._client_points(client, points)
        refusal = await self._series_points(series_id, points)
        if refusal is not None:
            raise _error(refusal)

    async def _client_points(self, client: str, points: int) -> None:
        await self._tally.hand_over_due(self._run)
        refusal = await self._tally.add(
            self.limits.client_predictions, "client predictions", f"client:{client}", points
        )
        if refusal is not None:
            raise _error(refusal)

    def _series_points(self, series_id: str, points: int) -> Awaitable[Refusal | None]:
        return self._tally.add(
            self.limits.series_predictions, "predictions of a series", f"series:{series_id}", points
        )

    async def _run[T](self, calls: list[Awaitable[T]]) -> list[T]:
        """Await `calls`: one after another in memory (a few µs each), in concurrent
        waves against Redis (a round trip each)."""
        if not self.shared:
            return [await call for call in calls]
        answers: list[T] = []
        for start in range(0, len(calls), REDIS_CONCURRENCY):
            answers.extend(await asyncio.gather(*calls[start : start + REDIS_CONCURRENCY]))
        return answers

    async def _count_points(self, item: RateLimitItem, key: str, points: int) -> float | None:
        """Hand `points` to the limiter: None when they fit, else when the window resets.
        More points than are left use up what is left, and the key is refused."""
        if await self._guarded(self._limiter.hit(item, PREDICTIONS, key, cost=points)):
            return None
        return await self._refused_until(item, PREDICTIONS, key, use_up=True)

    async def _refused_until(
        self, item: RateLimitItem, namespace: str, key: str, *, use_up: bool = False
    ) -> float | None:
        """When the refused key's window resets (`use_up`: after taking what is left of
        it); None, letting the request through, when the storage stops answering."""
        try:
            stats = await self._limiter.get_window_stats(item, namespace, key)
            if use_up and stats.remaining > 0:
                await self._limiter.hit(item, namespace, key, cost=stats.remaining)
        except Exception as exc:  # redis-py's errors: connection, timeout, protocol
            self._unavailable(exc)
            return None
        return stats.reset_time

    async def check_training(self, client: str, series_id: str) -> None:
        """RATE_LIMITED when another training now would be over a limit (counts nothing)."""
        for item, scope, key in self._trainings(client, series_id):
            if not await self._guarded(self._limiter.test(item, TRAININGS, key)):
                reset_at = await self._refused_until(item, TRAININGS, key)
                if reset_at is not None:
                    raise rate_limited(scope, item, reset_at)

    async def count_training(self, client: str, series_id: str) -> None:
        for item, _, key in self._trainings(client, series_id):
            await self._guarded(self._limiter.hit(item, TRAININGS, key))

    def _trainings(self, client: str, series_id: str) -> list[tuple[RateLimitItem, str, str]]:
        return [
            (self.limits.client_trainings, "client trainings", f"client:{client}"),
            (self.limits.series_trainings, "trainings of a series", f"series:{series_id}"),
        ]

    async def _guarded(self, check: object) -> bool:
        """The check's answer; True (let through) when the storage does not answer."""
        try:
            return bool(await check)  # type: ignore[misc]
        except SigmawatchError:
            raise
        except Exception as exc:  # redis-py's errors: connection, timeout, protocol
            self._unavailable(exc)
            return True

    def _unavailable(self, exc: Exception) -> None:
        self.unavailable += 1
        now = time.monotonic()
        if now - self._warned_at > WARN_EVERY_S:
            self._warned_at = now
            log.warning(
                "rate limit storage unavailable; letting requests through",
                extra={"error": str(exc)},
            )


def rate_limits(settings: AccessSettings) -> RateLimits:
    redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None
    return RateLimits(
        LimitSet.parse(
            settings.rate_limit_series_predictions,
            settings.rate_limit_client_predictions,
            settings.rate_limit_series_trainings,
            settings.rate_limit_client_trainings,
        ),
        redis_url,
    )


def client_of(actor: Actor) -> str:
    """Whom a client limit counts: the key or token, else the address it came from."""
    if actor.name != ANONYMOUS.name:
        return actor.name
    return f"address/{actor.client or 'unknown'}"


def _async_uri(url: str) -> str:
    return url if url.startswith("async+") else f"async+{url}"
