"""The storage circuit breaker's states (AV-2), on a clock the test moves."""

from __future__ import annotations

import threading

import pytest

from sigmawatch.breaker import Breaker, BreakerOpenError, BreakerPolicy, State
from sigmawatch.errors import ErrorCode, SigmawatchError, StorageUnavailableError
from sigmawatch.registry.errors import series_busy


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _breaker(clock: Clock) -> tuple[Breaker, list[State]]:
    changes: list[State] = []
    breaker = Breaker(
        "registry",
        BreakerPolicy(fail_max=3, cool_down_s=10.0, slow_s=2.0),
        clock=clock,
        on_change=lambda _, state: changes.append(state),
    )
    return breaker, changes


def state(breaker: Breaker) -> State:
    """Read anew each time (mypy would narrow a repeated `breaker.state`)."""
    return breaker.state


def _fail(breaker: Breaker, exc: Exception | None = None) -> None:
    with pytest.raises(SigmawatchError), breaker.guard():
        raise exc or StorageUnavailableError("down")


def test_repeated_failures_open_it_and_calls_then_fail_fast_with_retry_after() -> None:
    clock = Clock()
    breaker, changes = _breaker(clock)
    for _ in range(2):
        _fail(breaker)
    assert state(breaker) is State.CLOSED
    _fail(breaker)
    assert state(breaker) is State.OPEN
    assert changes == [State.OPEN]
    ran = []
    clock.now += 4
    with pytest.raises(BreakerOpenError) as caught, breaker.guard():
        ran.append(1)
    assert not ran, "an open breaker must not call the backend"
    assert caught.value.code is ErrorCode.STORAGE_UNAVAILABLE
    assert caught.value.details["retry_after_s"] == 6
    assert breaker.opened == 1


def test_a_success_resets_the_count_of_consecutive_failures() -> None:
    breaker, _ = _breaker(Clock())
    for _ in range(5):
        _fail(breaker)
        _fail(breaker)
        with breaker.guard():
            pass
    assert state(breaker) is State.CLOSED


def test_after_the_cool_down_one_probe_closes_it() -> None:
    clock = Clock()
    breaker, changes = _breaker(clock)
    for _ in range(3):
        _fail(breaker)
    clock.now += 10
    assert state(breaker) is State.HALF_OPEN
    # While the probe runs, other calls still fail fast.
    with breaker.guard(), pytest.raises(BreakerOpenError), breaker.guard():
        pass
    assert state(breaker) is State.CLOSED
    assert changes == [State.OPEN, State.HALF_OPEN, State.CLOSED]


def test_a_failed_probe_opens_it_for_another_cool_down() -> None:
    clock = Clock()
    breaker, _ = _breaker(clock)
    for _ in range(3):
        _fail(breaker)
    clock.now += 11
    _fail(breaker)
    assert state(breaker) is State.OPEN
    clock.now += 9
    with pytest.raises(BreakerOpenError), breaker.guard():
        pass
    assert breaker.opened == 2


def test_slow_successes_count_as_failures() -> None:
    clock = Clock()
    breaker, _ = _breaker(clock)
    for _ in range(3):
        with breaker.guard():
            clock.now += 2.5
    assert state(breaker) is State.OPEN


def test_request_errors_and_a_busy_series_do_not_count() -> None:
    breaker, _ = _breaker(Clock())
    for _ in range(5):
        _fail(breaker, SigmawatchError(ErrorCode.MODEL_NOT_FOUND, "none"))
        _fail(breaker, series_busy("s"))
    assert state(breaker) is State.CLOSED


def test_calls_run_concurrently_through_a_closed_breaker() -> None:
    """The lock covers state changes only: guarded calls overlap."""
    breaker, _ = _breaker(Clock())
    inside = threading.Barrier(4, timeout=5)

    def call() -> None:
        with breaker.guard():
            inside.wait()  # all four must be inside at once

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert not inside.broken
