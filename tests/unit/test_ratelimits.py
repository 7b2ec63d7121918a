"""Rate limits in process (SEC-2): what counts, per client and per series, and the answer."""

from __future__ import annotations

import socket
import time

import pytest

from sigmawatch.audit import Actor
from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch_inference.security.ratelimits import (
    REDIS_TIMEOUT_S,
    LimitSet,
    RateLimits,
    client_of,
)
from support.serving import run_async

SMALL = LimitSet.parse("5 per minute", "8 per minute", "1 per 5 minutes", "2 per hour")


def refused(call) -> SigmawatchError:  # type: ignore[no-untyped-def]
    with pytest.raises(SigmawatchError) as caught:
        run_async(call)
    assert caught.value.code is ErrorCode.RATE_LIMITED
    return caught.value


def test_a_batch_counts_its_points_per_client_and_per_series() -> None:
    limits = RateLimits(SMALL)
    assert run_async(limits.predictions("key/a", {"s1": 3, "s2": 4})) == {}
    # s1 has 2 left, s2 1: a batch over s2's limit fails that item alone.
    over = run_async(limits.predictions("key/b", {"s1": 1, "s2": 2}))
    assert over.keys() == {"s2"}
    assert over["s2"].details["scope"] == "predictions of a series"
    error = refused(limits.predictions("key/a", {"s3": 2}))  # key/a: 7 of 8 used
    assert error.details["scope"] == "client predictions"
    assert error.details["limit"] == 8
    assert 1 <= error.details["retry_after_s"] <= 60
    assert "8 client predictions per minute" in error.message
    assert run_async(limits.predictions("key/c", {"s3": 1})) == {}  # another client


def test_trainings_are_checked_before_and_counted_after() -> None:
    limits = RateLimits(SMALL)
    run_async(limits.check_training("key/a", "pump"))
    run_async(limits.check_training("key/a", "pump"))  # a check alone counts nothing
    run_async(limits.count_training("key/a", "pump"))
    error = refused(limits.check_training("key/b", "pump"))
    assert error.details["scope"] == "trainings of a series"
    assert "per 5 minutes" in error.message
    run_async(limits.count_training("key/a", "other"))
    assert refused(limits.check_training("key/a", "third")).details["scope"] == "client trainings"


def test_an_unreachable_store_lets_requests_through() -> None:
    limits = RateLimits(SMALL, redis_url="redis://127.0.0.1:1")  # nothing listens on port 1
    for _ in range(20):
        assert run_async(limits.predictions("key/a", {"s1": 5})) == {}
    run_async(limits.check_training("key/a", "pump"))
    assert limits.unavailable >= 20


def test_a_silent_store_costs_a_bounded_wait() -> None:
    """A Redis that accepts connections and answers nothing must not hang requests."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        limits = RateLimits(SMALL, redis_url=f"redis://127.0.0.1:{port}")
        started = time.monotonic()
        assert run_async(limits.predictions("key/a", {"s1": 1})) == {}
        assert time.monotonic() - started < 5 * REDIS_TIMEOUT_S
        assert limits.unavailable == 2  # the client's limit and the series', each let through


def test_a_client_is_its_credentials_else_its_address() -> None:
    assert client_of(Actor("key/etl", "10.0.0.7")) == "key/etl"
    assert client_of(Actor("token/alice", "10.0.0.7")) == "token/alice"
    assert client_of(Actor("anonymous", "10.0.0.7")) == "address/10.0.0.7"


def test_a_single_prediction_is_refused_by_either_limit() -> None:
    limits = RateLimits(SMALL)
    for _ in range(5):
        run_async(limits.prediction("key/a", "s1", 1))
    assert refused(limits.prediction("key/a", "s1", 1)).details["scope"] == (
        "predictions of a series"
    )
    run_async(limits.prediction("key/a", "s2", 1))  # key/a: 7 of 8
    assert refused(limits.prediction("key/a", "s3", 2)).details["scope"] == "client predictions"
