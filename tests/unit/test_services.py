"""Start-up of a serving process, in process: retries, and what callers are told meanwhile."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from sigmawatch.breaker import Breaker
from sigmawatch.errors import ErrorCode, SigmawatchError, StorageUnavailableError
from sigmawatch.registry import Registry
from sigmawatch.registry.memory import MemoryRegistry
from sigmawatch_inference.services import STARTING_MESSAGE, Services
from sigmawatch_inference.settings import ServiceSettings
from support.procs import wait_for

SECRET = "postgresql://admin:hunter2@db.internal:5432/registry"


def test_a_failing_start_up_is_retried_and_tells_callers_nothing_internal(
    tmp_path: Path,
) -> None:
    attempts: list[int] = []
    registry = MemoryRegistry()

    def open_registry(_: ServiceSettings, __: Breaker) -> Registry:
        attempts.append(1)
        if len(attempts) < 3:
            raise StorageUnavailableError(f"could not reach {SECRET}")
        return registry

    services = Services(ServiceSettings(data_dir=tmp_path), open_registry=open_registry)
    starting = threading.Thread(target=services.start)
    starting.start()
    try:
        wait_for(lambda: services.startup_error is not None, timeout=10, what="a failed start")
        assert services.startup_error == "STORAGE_UNAVAILABLE"
        with pytest.raises(SigmawatchError) as caught:
            services.require()
        assert caught.value.code is ErrorCode.STORAGE_UNAVAILABLE
        assert caught.value.to_dict() == {
            "code": "STORAGE_UNAVAILABLE",
            "message": STARTING_MESSAGE,
            "details": {},
        }
        wait_for(services.ready.is_set, timeout=15, what="the third attempt to succeed")
        assert services.startup_error is None
        assert services.require()[0] is registry
    finally:
        services.stop()
        starting.join(10)
