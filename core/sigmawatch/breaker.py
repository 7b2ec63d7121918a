"""A circuit breaker for the registry and the artifact store (AV-2).

Closed: calls run; consecutive failures (or calls slower than `slow_s`)
are counted, and `fail_max` of them open it. Open: calls fail at once with
STORAGE_UNAVAILABLE and a `retry_after_s`, so a slow or dead backend costs
callers nothing while cached models keep answering. After `cool_down_s`
it is half-open: up to `probes` calls run at a time as trials; one success
closes it, one failure opens it for another cool-down.

The lock covers state changes only, never a guarded call, so concurrent
calls run concurrently (docs/decisions/0017-circuit-breaker-and-deadlines.md says why
this is not a library).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum

from sigmawatch.errors import StorageUnavailableError

log = logging.getLogger(__name__)


class State(StrEnum):
    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    fail_max: int = 5
    cool_down_s: float = 10.0
    slow_s: float = 2.0
    probes: int = 1


class BreakerOpenError(StorageUnavailableError):
    """Failed fast: the breaker is open (nothing was sent to the backend)."""


def counts_as_failure(exc: BaseException) -> bool:
    """Backend outages count; a busy series lock or a missing object does not."""
    return type(exc) is StorageUnavailableError


class Breaker:
    def __init__(
        self,
        name: str,
        policy: BreakerPolicy | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[Breaker, State], None] | None = None,
    ) -> None:
        self.name = name
        self.policy = policy or BreakerPolicy()
        self._clock = clock
        self._on_change = on_change
        self._lock = threading.Lock()
        self._state = State.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = 0
        self.opened = 0  # times it opened, for the metric

    @property
    def state(self) -> State:
        with self._lock:
            if self._state is State.OPEN and self._cooled():
                return State.HALF_OPEN
            return self._state

    def retry_after_s(self) -> int:
        left = self.policy.cool_down_s - (self._clock() - self._opened_at)
        return max(1, math.ceil(left))

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Run the block as one guarded call (or fail fast while open)."""
        probe = self._admit()
        started = self._clock()
        try:
            yield
        except BaseException as exc:
            if counts_as_failure(exc):
                self._record(ok=False, probe=probe)
            else:
                self._record(ok=True, probe=probe)
            raise
        slow = self._clock() - started > self.policy.slow_s
        self._record(ok=not slow, probe=probe)

    def _cooled(self) -> bool:
        return self._clock() - self._opened_at >= self.policy.cool_down_s

    def _admit(self) -> bool:
        """Whether the call is a half-open probe; raises while open."""
        with self._lock:
            if self._state is State.CLOSED:
                return False
            if self._state is State.OPEN and self._cooled():
                self._set(State.HALF_OPEN)
            if self._state is State.HALF_OPEN and self._probing < self.policy.probes:
                self._probing += 1
                return True
            raise BreakerOpenError(
                f"{self.name} unavailable (circuit open); retry",
                retry_after_s=self.retry_after_s(),
            )

    def _record(self, *, ok: bool, probe: bool) -> None:
        with self._lock:
            if probe:
                self._probing -= 1
            if ok:
                self._failures = 0
                if self._state is State.HALF_OPEN and probe:
                    self._set(State.CLOSED)
                return
            self._failures += 1
            if (probe and self._state is State.HALF_OPEN) or (
                self._state is State.CLOSED and self._failures >= self.policy.fail_max
            ):
                self._opened_at = self._clock()
                self.opened += 1
                self._set(State.OPEN)

    def _set(self, state: State) -> None:
        if state is self._state:
            return
        self._state = state
        level = logging.INFO if state is State.CLOSED else logging.WARNING
        log.log(
            level,
            "circuit breaker %s",
            state.value.replace("_", "-"),
            extra={"breaker": self.name, "failures": self._failures},
        )
        if self._on_change is not None:
            self._on_change(self, state)
