"""Points added up between calls to the limiter (SEC-2): when they are handed over, and
how a refused key stays refused until its window resets."""

from __future__ import annotations

import time
from collections.abc import Awaitable

import pytest
from limits import RateLimitItem, parse

from sigmawatch_inference.security import tally
from sigmawatch_inference.security.tally import Tally
from support.serving import run_async

PER_MINUTE = parse("1000 per minute")  # handed over at 50 points


class Limiter:
    """Our Count interface over a plain counter: admits up to `room` points."""

    def __init__(self, room: int, reset_in_s: float = 60.0) -> None:
        self.room = room
        self.reset_in_s = reset_in_s
        self.calls: list[tuple[str, int]] = []

    async def count(self, item: RateLimitItem, key: str, points: int) -> float | None:
        self.calls.append((key, points))
        if points <= self.room:
            self.room -= points
            return None
        self.room = 0
        return time.time() + self.reset_in_s


async def in_order(calls: list[Awaitable[object]]) -> list[object]:
    return [await call for call in calls]


def test_points_reach_the_limiter_at_a_twentieth_of_the_limit() -> None:
    limiter = Limiter(room=10_000)
    counts = Tally(limiter.count)
    for _ in range(49):
        assert run_async(counts.add(PER_MINUTE, "series", "s1", 1)) is None
    assert limiter.calls == []  # 49 points: not yet
    run_async(counts.add(PER_MINUTE, "series", "s1", 1))
    assert limiter.calls == [("s1", 50)]
    # Small limits hand every point over at once: they stay exact.
    run_async(counts.add(parse("5 per minute"), "series", "s2", 1))
    assert limiter.calls[-1] == ("s2", 1)


def test_every_key_is_handed_over_once_the_interval_passes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tally, "FLUSH_S", 0.05)
    limiter = Limiter(room=10_000)
    counts = Tally(limiter.count)
    run_async(counts.add(PER_MINUTE, "series", "a", 3))
    run_async(counts.add(PER_MINUTE, "series", "b", 4))
    run_async(counts.hand_over_due(in_order))
    assert limiter.calls == []  # too soon
    time.sleep(0.06)
    run_async(counts.hand_over_due(in_order))
    assert sorted(limiter.calls) == [("a", 3), ("b", 4)]
    run_async(counts.hand_over_due(in_order))
    assert len(limiter.calls) == 2  # nothing pending: nothing handed over


def test_a_refused_key_is_refused_here_until_its_window_resets() -> None:
    limiter = Limiter(room=60, reset_in_s=0.2)
    counts = Tally(limiter.count)
    assert run_async(counts.add(PER_MINUTE, "series", "s1", 50)) is None
    refusal = run_async(counts.add(PER_MINUTE, "series", "s1", 50))
    assert refusal is not None
    assert refusal.scope == "series"
    calls = len(limiter.calls)
    for _ in range(100):  # without asking the limiter again
        assert run_async(counts.add(PER_MINUTE, "series", "s1", 1)) is refusal
    assert len(limiter.calls) == calls
    time.sleep(0.25)
    limiter.room = 1_000
    assert run_async(counts.add(PER_MINUTE, "series", "s1", 50)) is None
