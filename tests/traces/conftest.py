"""The tracing tier (OBS-5): real processes export to a real Jaeger on loopback.

Jaeger is built from the Go module proxy; without Go the tier is skipped
(listed under SKIPPED TIERS), in CI it fails. Each service gets its own
OTEL_SERVICE_NAME, so a test finds its traces by name.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.jaeger import Jaeger
from support.service import Service, ServiceFactory

_names = itertools.count()


def otel_env(jaeger: Jaeger, service_name: str) -> dict[str, str]:
    """What a process needs to export every span to the test's Jaeger, quickly."""
    return {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": jaeger.otlp_endpoint,
        "OTEL_SERVICE_NAME": service_name,
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # ms: spans reach Jaeger within a poll or two
    }


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_names)}"


@pytest.fixture(scope="module")
def jaeger(tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path) -> Iterator[Jaeger]:
    server = Jaeger(tmp_path_factory.mktemp("jaeger"), artifacts_dir / "logs").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def traced_service(make_service: ServiceFactory, jaeger: Jaeger) -> Callable[..., Service]:
    """A service exporting to Jaeger as `name`; the resident table off unless asked
    for, so a first predict of a series always loads its model (the path under test)."""

    def make(name: str, *, resident: bool = False) -> Service:
        env = otel_env(jaeger, name)
        if not resident:
            env["SIGMAWATCH_RESIDENT_MAX_BYTES"] = "0"
        return make_service(name, env=env, shares="traces")

    return make
